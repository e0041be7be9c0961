// The consent ledger over real HTTP, and every consent gate: granting and withdrawing are one
// call each, the current state follows the latest event (never = not granted), the history
// holds what a consent record needs, withdrawal takes effect at once, and a write that needs
// a consent that is not granted is refused naming it, with nothing written.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, startServer } from './lib/harness.mjs';
import { call, consentBody, createPerson, grant, readingBody, rowCounts } from './lib/people.mjs';

let db;
let server;

before(async () => {
  db = await createDatabase();
  server = await startServer(baseEnv(db));
});
after(async () => {
  await server?.stop();
  await db?.drop();
});

const PURPOSES = ['email_delivery', 'passport_sync', 'public_share', 'gift_delivery', 'ai_processing', 'marketing'];

test('current state: never, granted, withdrawn; the ledger keeps every event', async () => {
  const p = await createPerson(db);
  const initial = await call(server, 'GET', '/v1/consents', { token: p.token });
  assert.equal(initial.status, 200);
  assert.deepEqual(initial.json, { purposes: Object.fromEntries(PURPOSES.map((x) => [x, 'never'])) });

  const granted = await call(server, 'POST', '/v1/consents', { token: p.token, body: consentBody('marketing', 'granted', { source: 'site:settings' }) });
  assert.equal(granted.status, 201, granted.text);
  assert.equal(granted.json.purpose, 'marketing');
  assert.equal(granted.json.action, 'granted');
  assert.deepEqual(granted.json.notice, { version: '2026-11', sha256: 'a'.repeat(64), language: 'en' });
  assert.equal(granted.json.jurisdiction, 'DE');
  assert.equal(granted.json.method, 'web_form');
  assert.equal(granted.json.actor, 'person');
  assert.equal(granted.json.source, 'site:settings');
  assert.match(granted.json.receipt_id, /^[0-9a-f-]{36}$/);
  assert.ok(granted.json.recorded_at && granted.json.valid_from);

  let now = await call(server, 'GET', '/v1/consents', { token: p.token });
  assert.equal(now.json.purposes.marketing, 'granted');
  const withdrawn = await call(server, 'POST', '/v1/consents', { token: p.token, body: consentBody('marketing', 'withdrawn') });
  assert.equal(withdrawn.status, 201);
  now = await call(server, 'GET', '/v1/consents', { token: p.token });
  assert.equal(now.json.purposes.marketing, 'withdrawn');

  const history = await call(server, 'GET', '/v1/consents/history', { token: p.token });
  assert.equal(history.status, 200);
  assert.deepEqual(history.json.events.map((e) => [e.purpose, e.action]), [['marketing', 'granted'], ['marketing', 'withdrawn']]);
  assert.equal(history.json.events[0].source, 'site:settings');
  assert.equal(history.json.events[1].source, 'api', 'the default source');
});

test('each person sees only their own ledger', async () => {
  const p = await createPerson(db);
  const q = await createPerson(db);
  await grant(server, p, 'marketing');
  const hq = await call(server, 'GET', '/v1/consents/history', { token: q.token });
  assert.deepEqual(hq.json.events, []);
  assert.equal((await call(server, 'GET', '/v1/consents', { token: q.token })).json.purposes.marketing, 'never');
});

test('a grant with a validity lapses to withdrawn', async () => {
  const p = await createPerson(db);
  const soon = new Date(Date.now() + 1500).toISOString();
  const res = await call(server, 'POST', '/v1/consents', { token: p.token, body: consentBody('marketing', 'granted', { valid_until: soon }) });
  assert.equal(res.status, 201, res.text);
  assert.equal((await call(server, 'GET', '/v1/consents', { token: p.token })).json.purposes.marketing, 'granted');
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal((await call(server, 'GET', '/v1/consents', { token: p.token })).json.purposes.marketing, 'withdrawn');
});

test('bad consent bodies are 422 with nothing written', async () => {
  const p = await createPerson(db);
  const cases = [
    [{ purpose: 'telepathy' }, /purpose is not one of the allowed values/],
    [{ action: 'maybe' }, /action is not one of the allowed values/],
    [{ method: 'carrier_pigeon' }, /method is not one of the allowed values/],
    [{ notice_sha256: 'A'.repeat(64) }, /notice_sha256 must be 64 lower-case hex digits/],
    [{ notice_sha256: 'abc' }, /notice_sha256 must have 64 to 64 characters/],
    [{ language: 'english please' }, /language must be a BCP 47 tag/],
    [{ jurisdiction: 'Germany' }, /jurisdiction must/],
    [{ notice_version: '' }, /notice_version must have 1 to 64/],
    [{ valid_until: 'tomorrow' }, /valid_until must be an RFC 3339 timestamp/],
    [{ action: 'withdrawn', valid_until: '2030-01-01T00:00:00Z' }, /valid_until applies to a grant only/],
    [{ source: 'site settings!' }, /source may hold/],
    [{ extra: true }, /unknown field extra/],
  ];
  for (const [override, detail] of cases) {
    const before = await rowCounts(db, ['consent_events']);
    const res = await call(server, 'POST', '/v1/consents', { token: p.token, body: consentBody('marketing', 'granted', override) });
    assert.equal(res.status, 422, `${JSON.stringify(override)}: ${res.text}`);
    assert.match(res.json.detail, detail);
    assert.deepEqual(await rowCounts(db, ['consent_events']), before);
  }
  const past = await call(server, 'POST', '/v1/consents', { token: p.token, body: consentBody('marketing', 'granted', { valid_until: '2001-01-01T00:00:00Z' }) });
  assert.equal(past.status, 422, 'a validity already over is refused by the database');
  assert.equal((await db.query('SELECT count(*) FROM consent_events WHERE user_id = $1', [p.id])).rows[0].count, '0');
});

// ---- the gates ----

async function reading(person) {
  const res = await call(server, 'POST', '/v1/readings', { token: person.token, body: readingBody() });
  assert.equal(res.status, 201, res.text);
  return res.json.id;
}

async function refusedForConsent(person, method, path, body, missing, tables) {
  const before = await rowCounts(db, tables);
  const res = await call(server, method, path, { token: person.token, body });
  assert.equal(res.status, 422, res.text);
  assert.equal(res.json.type, 'urn:scrollkeep:problem:consent-required');
  assert.deepEqual(res.json.missing_consent, missing);
  assert.deepEqual(await rowCounts(db, tables), before, 'nothing was written');
}

test('no public share card without public_share; no gift without gift_delivery', async () => {
  const p = await createPerson(db);
  const id = await reading(p);
  const tables = ['oracle_artifacts', 'gift_recipients', 'delivery_jobs'];
  await refusedForConsent(p, 'POST', `/v1/readings/${id}/artifacts`, { kind: 'share_card' }, ['public_share'], tables);
  await refusedForConsent(p, 'POST', `/v1/readings/${id}/artifacts`, { kind: 'gift', gift: { email: 'friend@example.test' } }, ['gift_delivery'], tables);
  await grant(server, p, 'public_share', 'gift_delivery');
  assert.equal((await call(server, 'POST', `/v1/readings/${id}/artifacts`, { token: p.token, body: { kind: 'share_card' } })).status, 202);
  assert.equal((await call(server, 'POST', `/v1/readings/${id}/artifacts`, { token: p.token, body: { kind: 'gift', gift: { email: 'friend@example.test' } } })).status, 202);
});

test('no Echo (an e-mail) without email_delivery', async () => {
  const p = await createPerson(db);
  const id = await reading(p);
  const when = new Date(Date.now() + 7 * 86400e3).toISOString();
  await refusedForConsent(p, 'POST', '/v1/echoes', { reading_id: id, scheduled_for: when }, ['email_delivery'], ['echoes', 'delivery_jobs']);
});

test('no passport stamp without passport_sync, and withdrawal stops the next one at once', async () => {
  const p = await createPerson(db);
  await grant(server, p, 'passport_sync');
  await reading(p);
  await call(server, 'POST', '/v1/consents', { token: p.token, body: consentBody('passport_sync', 'withdrawn') });
  const second = await call(server, 'POST', '/v1/readings', { token: p.token, body: readingBody() });
  assert.equal(second.json.passport_stamped, false);
  const passport = await call(server, 'GET', '/v1/passport', { token: p.token });
  assert.equal(passport.json.stamps.length, 1, 'only the stamp from before the withdrawal');
  assert.equal(passport.json.readings.length, 2, 'readings are listed either way');
});

test('withdrawing public_share kills the share token at once and refuses the next share card', async () => {
  const p = await createPerson(db);
  const id = await reading(p);
  await grant(server, p, 'public_share');
  const card = await call(server, 'POST', `/v1/readings/${id}/artifacts`, { token: p.token, body: { kind: 'share_card' } });
  let got = await call(server, 'GET', `/v1/artifacts/${card.json.id}`, { token: p.token });
  assert.match(got.json.share_path, /^\/share\/[A-Za-z0-9_-]{43}$/);
  await call(server, 'POST', '/v1/consents', { token: p.token, body: consentBody('public_share', 'withdrawn') });
  got = await call(server, 'GET', `/v1/artifacts/${card.json.id}`, { token: p.token });
  assert.equal(got.json.share_path, null);
  assert.equal(got.json.status, 'revoked');
  const other = await reading(p);
  await refusedForConsent(p, 'POST', `/v1/readings/${other}/artifacts`, { kind: 'share_card' }, ['public_share'], ['oracle_artifacts']);
});
