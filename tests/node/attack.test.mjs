// The attacker's view: every attempt below must fail, and each refusal is asserted, not just
// the absence of a crash. Another person's rows through every route; tokens that are expired,
// unsigned (alg none), wrongly signed or for the wrong audience; SQL through every parameter;
// paths traversed through artifact ids, share tokens and the lab's files; share tokens
// guessed; memory exhausted with huge or deeply nested JSON; requests smuggled with both
// Content-Length and Transfer-Encoding; forged and replayed webhooks; secrets looked for in
// /metrics, errors, logs and doctor. (Reading rows as anon or as another person directly in SQL
// is tests/sql/10_rls.sql, for every table.)
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, runCli, startServer, startWorker, tempDir } from './lib/harness.mjs';
import { call, consentBody, createPerson, grant, personToken, readingBody, rowCounts, serviceToken, signJwt } from './lib/people.mjs';

const SECRETS = {
  STRIPE_SECRET_KEY: 'sk_test_attack_secret_value_0123456789',
  STRIPE_WEBHOOK_SECRET: 'whsec_attack_secret_value_0123456789',
  AI_API_KEY: 'ai-attack-secret-value-0123456789',
  SCROLLKEEP_ERASURE_KEY: 'erasure-attack-secret-value-0123456789',
};
let db;
let env;
let server;
let a;
let b;
const theirs = {}; // b's ids

before(async () => {
  db = await createDatabase();
  env = baseEnv(db, { ...SECRETS, ARTIFACT_DIR: tempDir('sk-attack-store-'), SCROLLKEEP_MAILDIR: path.join(tempDir('sk-attack-'), 'mail') });
  server = await startServer(env);
  a = await createPerson(db, 'attacker');
  b = await createPerson(db, 'victim');
  for (const p of [a, b]) await grant(server, p, 'email_delivery', 'public_share', 'passport_sync', 'gift_delivery');
  theirs.reading = (await call(server, 'POST', '/v1/readings', { token: b.token, body: readingBody({ question: 'A victim secret question?' }) })).json.id;
  theirs.artifact = (await call(server, 'POST', `/v1/readings/${theirs.reading}/artifacts`, { token: b.token, body: { kind: 'share_card' } })).json.id;
  theirs.export = (await call(server, 'POST', '/v1/privacy/export', { token: b.token, body: {} })).json.id;
  const w = startWorker(env, ['--once']);
  await w.exited;
  theirs.deletion = (await call(server, 'POST', '/v1/privacy/deletion', { token: b.token, body: {} })).json?.id;
  const { rows: [s] } = await db.query('SELECT share_token FROM oracle_artifacts WHERE id = $1', [theirs.artifact]);
  theirs.share = s.share_token;
});
after(async () => {
  await server?.stop();
  await db?.drop();
});

const inAWeek = () => new Date(Date.now() + 7 * 86400e3).toISOString();

test('another person\'s rows cannot be reached through any route: 404, and nothing written', async () => {
  const tables = ['readings', 'oracle_artifacts', 'echoes', 'council_sessions', 'checkout_sessions', 'deletion_requests', 'data_exports'];
  const before = await rowCounts(db, tables);
  const attempts = [
    ['GET', `/v1/readings/${theirs.reading}`],
    ['GET', `/v1/artifacts/${theirs.artifact}`],
    ['GET', `/v1/artifacts/${theirs.artifact}/file`],
    ['POST', `/v1/readings/${theirs.reading}/artifacts`, { kind: 'pdf' }],
    ['POST', '/v1/echoes', { reading_id: theirs.reading, scheduled_for: inAWeek() }],
    ['POST', '/v1/council', { reading_id: theirs.reading, voices: [{ voice: 'Thief', body: 'mine now' }] }],
    ['POST', '/v1/oracle/echoes', { reading_id: theirs.reading, scheduled_for: inAWeek() }],
    ['POST', '/v1/oracle/council', { reading_id: theirs.reading, voices: ['Thief'] }],
    ['GET', `/v1/privacy/requests/${theirs.export}`],
    ['GET', `/v1/privacy/requests/${theirs.export}/archive`],
    ['GET', `/v1/privacy/requests/${theirs.deletion}`],
    ['POST', `/v1/privacy/requests/${theirs.deletion}/cancel`, {}],
  ];
  await grant(server, a, 'ai_processing');
  for (const [method, p, body] of attempts) {
    const res = await call(server, method, p, { token: a.token, body });
    assert.ok([404, 422].includes(res.status) && (res.status === 404 || /consent|not/.test(res.json?.detail)), `${method} ${p}: ${res.status} ${res.text}`);
    assert.equal(res.status, 404, `${method} ${p} answers as if it did not exist`);
    assert.ok(!res.text.includes('victim secret'), 'nothing of theirs in the answer');
  }
  assert.deepEqual(await rowCounts(db, tables), before);
  // The person's own lists hold only their own.
  const mine = await call(server, 'GET', '/v1/passport', { token: a.token });
  assert.ok(!mine.text.includes(theirs.reading));
});

test('bad tokens are refused on a person route, each for its reason', async () => {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: a.id, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 600 };
  const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  const cases = [
    [signJwt({ ...claims, exp: now - 3600 }), 401, 'token_expired'],
    [unsigned, 401, null],
    [signJwt(claims, { secret: 'not-the-projects-secret-0123456789abcdef' }), 401, 'token_bad_signature'],
    [signJwt({ ...claims, aud: 'someone-else' }), 401, 'token_wrong_audience'],
    [signJwt({ ...claims, role: 'service_role' }, { secret: 'not-the-projects-secret-0123456789abcdef' }), 401, 'token_bad_signature'],
    [serviceToken(), 403, 'role_not_allowed'],
    [`${personToken(a.id)}x`, 401, null],
  ];
  for (const [token, status, code] of cases) {
    const res = await call(server, 'GET', `/v1/readings/${theirs.reading}`, { token });
    assert.equal(res.status, status, res.text);
    if (code) assert.equal(res.json.code, code, res.text);
  }
  // A person's token on the operators' routes.
  assert.equal((await call(server, 'GET', '/v1/admin/jobs', { token: a.token })).status, 403);
  assert.equal((await call(server, 'GET', '/v1/lab/plan?layer=shop', { token: a.token })).status, 403);
});

test('SQL through every kind of parameter is data, never code', async () => {
  const injections = ["' OR '1'='1", "1; DROP TABLE readings; --", "00000000-0000-4000-8000-000000000000' OR 1=1 --", '$1', '\\x27'];
  const before = await rowCounts(db, ['readings', 'oracle_artifacts', 'auth.users']);
  for (const s of injections) {
    const e = encodeURIComponent(s);
    for (const p of [`/v1/readings/${e}`, `/v1/artifacts/${e}`, `/v1/artifacts/${e}/file`, `/v1/privacy/requests/${e}`]) {
      const res = await call(server, 'GET', p, { token: a.token });
      assert.equal(res.status, 400, `${p}: ${res.text}`);
    }
    const admin = await call(server, 'GET', `/v1/admin/jobs?kind=${e}&status=${e}`, { token: serviceToken() });
    assert.ok([200, 400, 422].includes(admin.status), admin.text);
    if (admin.status === 200) assert.deepEqual(admin.json.jobs, [], 'a kind named by SQL finds nothing');
    const lab = await call(server, 'GET', `/v1/lab/plan?layer=${e}`, { token: serviceToken() });
    assert.equal(lab.status, 400);
    const unlock = await call(server, 'GET', `/v1/unlock?route=${e}`, { token: a.token });
    assert.ok([200, 400].includes(unlock.status), unlock.text);
    if (unlock.status === 200) assert.equal(unlock.json.unlocked, false);
  }
  // In a body, SQL is stored as the person's text, verbatim.
  const sneaky = "Robert'); DROP TABLE readings; --";
  const res = await call(server, 'POST', '/v1/readings', { token: a.token, body: readingBody({ question: sneaky }) });
  assert.equal(res.status, 201);
  const back = await call(server, 'GET', `/v1/readings/${res.json.id}`, { token: a.token });
  assert.equal(back.json.question, sneaky);
  const after = await rowCounts(db, ['readings', 'oracle_artifacts', 'auth.users']);
  assert.equal(after.readings, before.readings + 1);
  assert.equal(after['auth.users'], before['auth.users']);
});

test('paths cannot be traversed through artifact ids, share tokens or the lab\'s files', async () => {
  const traversals = ['..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '....//....//etc/passwd', '..%5c..%5cwin.ini', '%00'];
  for (const t of traversals) {
    const art = await call(server, 'GET', `/v1/artifacts/${t}/file`, { token: a.token });
    assert.ok([400, 404].includes(art.status), `${t}: ${art.status}`);
    const share = await fetch(`${server.url}/share/${t}`);
    assert.equal(share.status, 404, `/share/${t}`);
    const gift = await fetch(`${server.url}/gift/${t}`);
    assert.equal(gift.status, 404, `/gift/${t}`);
    const lab = await fetch(`${server.url}/lab/${t}`);
    assert.equal(lab.status, 404, `/lab/${t}`);
    for (const r of [share, gift, lab]) assert.ok(!(await r.text()).includes('root:'), 'no file from outside');
  }
});

test('share tokens cannot be guessed: random and near-miss tokens find nothing', async () => {
  assert.equal((await fetch(`${server.url}/share/${theirs.share}?format=json`)).status, 200, 'the real one works');
  const near = [...Array(12)].map((_, i) => {
    const chars = theirs.share.split('');
    chars[i * 3] = chars[i * 3] === 'A' ? 'B' : 'A';
    return chars.join('');
  });
  const random = [...Array(200)].map(() => randomBytes(32).toString('base64url'));
  for (const t of [...near, ...random]) {
    const res = await fetch(`${server.url}/share/${t}?format=json`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  }
  assert.equal(theirs.share.length, 43, '256 bits of randomness');
});

test('huge and deeply nested JSON is refused without exhausting the server', async () => {
  // Declared huge: refused from the headers alone, before a byte of the body is read.
  const huge = await rawExchange('POST /v1/consents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
    + `Authorization: Bearer ${a.token}\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n{"purpose":`, 2000);
  assert.match(huge, /^HTTP\/1\.1 413/);
  const deep = '['.repeat(200000) + ']'.repeat(200000);
  const nested = await call(server, 'POST', '/v1/consents', { token: a.token, raw: deep, headers: { 'Content-Type': 'application/json' } });
  assert.ok([400, 413].includes(nested.status), nested.text);
  const wide = JSON.stringify(Object.fromEntries([...Array(20000)].map((_, i) => [`k${i}`, i])));
  const manyKeys = await call(server, 'POST', '/v1/consents', { token: a.token, raw: wide, headers: { 'Content-Type': 'application/json' } });
  assert.ok([400, 413, 422].includes(manyKeys.status), manyKeys.text);
  // Still serving, promptly.
  const started = Date.now();
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  assert.ok(Date.now() - started < 2000);
});

/** Send raw bytes on one connection; resolve with everything the server answered before closing. */
function rawExchange(bytes, ms = 3000) {
  const { port } = new URL(server.url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), '127.0.0.1');
    let got = '';
    sock.on('data', (d) => { got += d; });
    sock.on('close', () => resolve(got));
    sock.on('error', () => resolve(got));
    sock.setTimeout(ms, () => sock.destroy());
    sock.write(bytes);
  });
}

test('a request with both Content-Length and Transfer-Encoding is refused, and smuggles nothing', async () => {
  const smuggle = 'POST /v1/consents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
    + `Authorization: Bearer ${a.token}\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n`
    + '0\r\n\r\nGET /v1/readings/' + theirs.reading + ' HTTP/1.1\r\nHost: x\r\n\r\n';
  const answer = await rawExchange(smuggle, 1500);
  const statuses = [...answer.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
  assert.ok(statuses.length >= 1, answer);
  assert.equal(statuses[0], 400, answer);
  assert.ok(statuses.length === 1, `one answer and the connection closed, not a smuggled second: ${statuses}`);
  assert.ok(!answer.includes('victim secret'));
  // Two Content-Lengths that disagree, likewise.
  const twice = await rawExchange('POST /v1/consents HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}');
  assert.match(twice, /^HTTP\/1\.1 400/);
});

test('forged, tampered, stale and replayed webhooks are refused with nothing stored', async () => {
  const body = JSON.stringify({ id: 'evt_attack_1', object: 'event', type: 'checkout.session.completed', created: Math.floor(Date.now() / 1000),
                                livemode: false, data: { object: { id: 'cs_attack', object: 'checkout.session' } } });
  const sig = (t, payload, secret = SECRETS.STRIPE_WEBHOOK_SECRET) => `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex')}`;
  const now = Math.floor(Date.now() / 1000);
  const send = (payload, header) => fetch(`${server.url}/v1/stripe/webhook`, { method: 'POST', body: payload,
    headers: { 'Content-Type': 'application/json', ...(header ? { 'Stripe-Signature': header } : {}) } });
  const before = await rowCounts(db, ['stripe_events']);
  for (const [payload, header] of [
    [body, null],
    [body, sig(now, body, 'whsec_someone_elses_secret_0123')],
    [body.replace('cs_attack', 'cs_attacj'), sig(now, body)],
    [body, sig(now - 3600, body)],
    [body, sig(now + 3600, body)],
    [body, `t=${now},v0=${createHmac('sha256', SECRETS.STRIPE_WEBHOOK_SECRET).update(`${now}.${body}`).digest('hex')}`],
  ]) {
    const res = await send(payload, header);
    assert.equal(res.status, 400, header);
    await res.arrayBuffer();
  }
  assert.deepEqual(await rowCounts(db, ['stripe_events']), before);
  // A captured delivery replayed later is as stale as any other.
  const captured = sig(now - 301, body);
  assert.equal((await send(body, captured)).status, 400);
});

test('no secret can be read through /metrics, errors, logs or doctor', async () => {
  const values = Object.values(SECRETS);
  const places = [];
  places.push(await (await fetch(`${server.url}/metrics`)).text());
  places.push((await call(server, 'GET', '/v1/readings/not-a-uuid', { token: a.token })).text);
  places.push((await call(server, 'POST', '/v1/checkout', { token: a.token, body: { slug: 'nope' } })).text);
  places.push((await fetch(`${server.url}/v1/stripe/webhook`, { method: 'POST', body: '{}', headers: { 'Stripe-Signature': 't=1,v1=00' } })).status.toString());
  places.push((await runCli(['doctor', '--json'], { env })).stdout);
  places.push((await runCli(['doctor'], { env })).stdout);
  places.push((await runCli(['lab', '--layer', 'shop', '--json'], { env })).stdout);
  places.push((await call(server, 'GET', '/v1/lab/plan?layer=shop', { token: serviceToken() })).text);
  places.push(server.stderr);
  for (const text of places) for (const v of values) assert.ok(!text.includes(v), 'a secret leaked');
  // Nor the person's words or address.
  assert.ok(!server.stderr.includes('victim secret') && !server.stderr.includes(b.email));
});
