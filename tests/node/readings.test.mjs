// Readings over real HTTP: create and seal, read back with the seal re-verified (and
// recomputed here, independently, with RFC 8785 canonical JSON), passport stamps under
// passport_sync, RLS (not C) keeping person A from person B, and every bad input refused with
// nothing written.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, startServer } from './lib/harness.mjs';
import { call, createPerson, grant, readingBody, rowCounts } from './lib/people.mjs';

let db;
let server;
let a;
let b;

before(async () => {
  db = await createDatabase();
  server = await startServer(baseEnv(db));
  a = await createPerson(db, 'a');
  b = await createPerson(db, 'b');
});
after(async () => {
  await server?.stop();
  await db?.drop();
});

// RFC 8785 for the value types of a reading: sorted keys, no white space, JSON.stringify's
// string escaping (which is JCS's).
function jcs(value) {
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${jcs(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

test('a reading is created, sealed, and read back with its seal re-verified', async () => {
  const body = readingBody({ question: 'Ünïcödé? שלום 🌙 "quoted" \\ back\tslash\nnewline', product_code: 'reading_deluxe' });
  const created = await call(server, 'POST', '/v1/readings', { token: a.token, body });
  assert.equal(created.status, 201, created.text);
  assert.match(created.json.id, /^[0-9a-f-]{36}$/);
  assert.match(created.json.seal_sha256, /^[0-9a-f]{64}$/);
  assert.match(created.json.sealed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(created.json.passport_stamped, false, 'no passport_sync, no stamp');

  const got = await call(server, 'GET', `/v1/readings/${created.json.id}`, { token: a.token });
  assert.equal(got.status, 200, got.text);
  assert.equal(got.json.question, body.question, 'Unicode round-trips exactly');
  assert.equal(got.json.answer, body.answer);
  assert.deepEqual(got.json.spread, body.spread);
  assert.equal(got.json.product_code, 'reading_deluxe');
  assert.equal(got.json.record_version, 2);
  assert.equal(got.json.sealed_at, created.json.sealed_at);
  assert.equal(got.json.seal.sha256, created.json.seal_sha256);
  assert.equal(got.json.seal.verified, true);

  // Recompute the seal here, from the fields, with an implementation of our own.
  const expected = jcs({
    record_version: 2, id: created.json.id, user_id: a.id, question: body.question, answer: body.answer,
    spread: body.spread, public_title: body.public_title, public_line: body.public_line,
    product_code: 'reading_deluxe', sealed_at: created.json.sealed_at,
  });
  assert.equal(got.json.seal.canonical, expected, 'the canonical text is RFC 8785');
  assert.equal(createHash('sha256').update(expected).digest('hex'), created.json.seal_sha256);

  const { rows: [row] } = await db.query('SELECT user_id, question, seal_sha256 FROM readings WHERE id = $1', [created.json.id]);
  assert.equal(row.user_id, a.id);
  assert.equal(row.question, body.question);
});

test('a changed row no longer verifies (the seal is checked, not echoed)', async () => {
  const created = await call(server, 'POST', '/v1/readings', { token: a.token, body: readingBody() });
  // Only a superuser with triggers off could do this; the API shows it.
  await db.query(`BEGIN; SET LOCAL session_replication_role = replica;
                  UPDATE readings SET answer = 'rewritten' WHERE id = '${created.json.id}'; COMMIT`);
  const got = await call(server, 'GET', `/v1/readings/${created.json.id}`, { token: a.token });
  assert.equal(got.json.seal.verified, false);
});

test('the passport is stamped when passport_sync is granted', async () => {
  const c = await createPerson(db, 'c');
  await grant(server, c, 'passport_sync');
  const created = await call(server, 'POST', '/v1/readings', { token: c.token, body: readingBody() });
  assert.equal(created.json.passport_stamped, true);
  const passport = await call(server, 'GET', '/v1/passport', { token: c.token });
  assert.equal(passport.status, 200);
  assert.ok(passport.json.passport.opened_at);
  assert.equal(passport.json.readings.length, 1);
  assert.equal(passport.json.readings[0].id, created.json.id);
  assert.equal(passport.json.readings[0].question, undefined, 'the passport lists safe fields only');
  assert.deepEqual(passport.json.stamps.map((s) => [s.kind, s.label, s.reading_id]), [['reading', 'The Star', created.json.id]]);
});

test('person B cannot read A\'s reading: 404, not 403', async () => {
  const created = await call(server, 'POST', '/v1/readings', { token: a.token, body: readingBody() });
  const res = await call(server, 'GET', `/v1/readings/${created.json.id}`, { token: b.token });
  assert.equal(res.status, 404);
  assert.equal(res.json.type, 'urn:scrollkeep:problem:not-found');
  const missing = await call(server, 'GET', '/v1/readings/00000000-0000-4000-8000-000000000000', { token: b.token });
  assert.equal(missing.status, 404);
  assert.equal(missing.text.replace(/"instance":"[^"]+"/, ''), res.text.replace(/"instance":"[^"]+"/, ''),
    'another person\'s reading and no reading look the same');
});

test('RLS, not C, stops A from reading B: with the C-side owner check dropped, still 404', async () => {
  const own = await createDatabase();
  const hooked = await startServer(baseEnv(own, { SCROLLKEEP_TEST_SKIP_OWNER_CHECKS: '1' }));
  try {
    const x = await createPerson(own, 'x');
    const y = await createPerson(own, 'y');
    const created = await call(hooked, 'POST', '/v1/readings', { token: x.token, body: readingBody() });
    assert.equal((await call(hooked, 'GET', `/v1/readings/${created.json.id}`, { token: x.token })).status, 200);
    assert.equal((await call(hooked, 'GET', `/v1/readings/${created.json.id}`, { token: y.token })).status, 404,
      'RLS alone hides it');
    // The control: with RLS switched off too, nothing else stands in the way (so the hook is
    // real, and the 404 above came from RLS).
    await own.query('ALTER TABLE readings DISABLE ROW LEVEL SECURITY');
    const leak = await call(hooked, 'GET', `/v1/readings/${created.json.id}`, { token: y.token });
    assert.equal(leak.status, 200, 'without RLS and without the C check the row would leak');
    await own.query('ALTER TABLE readings ENABLE ROW LEVEL SECURITY');
  } finally {
    await hooked.stop();
    await own.drop();
  }
});

const TABLES = ['readings', 'passports', 'passport_stamps'];

async function refusedWithoutWrites(init, status, typeSlug) {
  const before = await rowCounts(db, TABLES);
  const res = await call(server, 'POST', '/v1/readings', { token: a.token, ...init });
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.equal(res.json.type, `urn:scrollkeep:problem:${typeSlug}`);
  assert.deepEqual(await rowCounts(db, TABLES), before, 'nothing was written');
  return res;
}

test('bad input is refused with a clear problem and nothing written', async () => {
  await refusedWithoutWrites({ raw: '{"question": ', headers: { 'Content-Type': 'application/json' } }, 400, 'invalid-json');
  await refusedWithoutWrites({ raw: JSON.stringify(readingBody()), headers: { 'Content-Type': 'text/plain' } }, 415, 'unsupported-media-type');
  await refusedWithoutWrites({ raw: JSON.stringify(readingBody()) }, 415, 'unsupported-media-type');
  await refusedWithoutWrites({ raw: '[1,2]', headers: { 'Content-Type': 'application/json' } }, 422, 'invalid-body');
  await refusedWithoutWrites({ raw: '{"question":"a","question":"b"}', headers: { 'Content-Type': 'application/json' } }, 400, 'invalid-json');
  await refusedWithoutWrites({ raw: Buffer.concat([Buffer.from('{"question":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
    headers: { 'Content-Type': 'application/json' } }, 400, 'invalid-json');
  await refusedWithoutWrites({ raw: '{"question":"nul\\u0000byte"}', headers: { 'Content-Type': 'application/json' } }, 400, 'invalid-json');

  const cases = [
    [{ question: 5 }, /question must be a string/],
    [{ question: 'q'.repeat(2001) }, /question must have 1 to 2000 characters/],
    [{ question: '' }, /question must have 1 to 2000 characters/],
    [{ answer: 'a'.repeat(20001) }, /answer must have 1 to 20000 characters/],
    [{ public_title: 't'.repeat(121) }, /public_title must have 1 to 120/],
    [{ public_line: 'l'.repeat(281) }, /public_line must have 1 to 280/],
    [{ question: 'bell\u0007' }, /question holds a control character/],
    [{ spread: [] }, /spread must be an array of 1 to 78 items/],
    [{ spread: Array(79).fill({ card: 'x', position: 'y', reversed: false }) }, /spread must be an array of 1 to 78/],
    [{ spread: [{ card: 'x', position: 'y', reversed: 'no' }] }, /spread\[0\]\.reversed must be true or false/],
    [{ spread: [{ card: 'x', position: 'y', reversed: false, question: 'leak' }] }, /spread\[0\]\.unknown field question/],
    [{ spread: [{ card: 'x', reversed: false }] }, /spread\[0\]\.position is required/],
    [{ spread: 'The Star' }, /spread must be an array/],
    [{ product_code: 'Bad Code!' }, /product_code may hold/],
    [{ extra_field: 1 }, /unknown field extra_field/],
    [{ 'weird key!': 1 }, /unknown field \(unnamed\)/],
  ];
  for (const [override, detail] of cases) {
    const res = await refusedWithoutWrites({ body: readingBody(override) }, 422, 'invalid-body');
    assert.match(res.json.detail, detail);
  }
  const body = readingBody();
  delete body.answer;
  const res = await refusedWithoutWrites({ body }, 422, 'invalid-body');
  assert.match(res.json.detail, /answer is required/);
});

test('an oversize body is 413 with nothing written; a long but legal answer is accepted', async () => {
  await refusedWithoutWrites({ body: readingBody({ answer: 'x'.repeat(300 * 1024) }) }, 413, 'too-large');
  const long = await call(server, 'POST', '/v1/readings', { token: a.token, body: readingBody({ answer: '🌙'.repeat(20000) }) });
  assert.equal(long.status, 201, 'a 20,000-character answer of 4-byte characters fits');
});

test('ids that are not UUIDs are 400; a sealed reading has no route that changes it', async () => {
  for (const id of ['123', 'not-a-uuid', '00000000-0000-4000-8000-00000000000g', "x' OR '1'='1"]) {
    const res = await call(server, 'GET', `/v1/readings/${encodeURIComponent(id)}`, { token: a.token });
    assert.equal(res.status, 400, id);
    assert.equal(res.json.type, 'urn:scrollkeep:problem:bad-request');
  }
  const created = await call(server, 'POST', '/v1/readings', { token: a.token, body: readingBody() });
  for (const method of ['PUT', 'PATCH', 'DELETE']) {
    const res = await call(server, method, `/v1/readings/${created.json.id}`, { token: a.token, body: { answer: 'x' } });
    assert.equal(res.status, 405);
  }
});

test('the private text never reaches the server log', async () => {
  const secret = 'my-secret-question-' + Math.random().toString(36).slice(2);
  await call(server, 'POST', '/v1/readings', { token: a.token, body: readingBody({ question: secret, answer: secret + '-answer' }) });
  await call(server, 'POST', '/v1/readings', { token: a.token, body: readingBody({ question: secret, extra: 1 }) });
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(!server.stderr.includes(secret));
  assert.ok(!server.stderr.includes(a.email));
  assert.ok(!server.stderr.includes(a.token.split('.')[2]));
});
