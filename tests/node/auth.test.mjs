// Authentication over real HTTP with tokens made by Node's crypto: every way a token can be
// wrong is refused with 401 or 403 and a problem+json that says which, never which part of a
// secret; a valid person token and the service role key are told apart.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, startServer } from './lib/harness.mjs';
import { call, createPerson, personToken, serviceToken, signJwt } from './lib/people.mjs';

let db;
let server;
let person;
const now = () => Math.floor(Date.now() / 1000);

before(async () => {
  db = await createDatabase();
  server = await startServer(baseEnv(db));
  person = await createPerson(db);
});
after(async () => {
  await server?.stop();
  await db?.drop();
});

async function refused(token, status, code, { raw } = {}) {
  const headers = raw !== undefined ? { Authorization: raw } : {};
  const res = await call(server, 'GET', '/v1/consents', { token, headers });
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.equal(res.json.code, code);
  assert.equal(res.json.status, status);
  if (status === 401) assert.match(res.headers.get('www-authenticate'), /^Bearer realm="scrollkeep"/);
  assert.ok(!/secret|key/i.test(res.json.detail ?? ''), 'the detail never speaks of the secret');
  return res;
}

test('a valid person token is accepted', async () => {
  const res = await call(server, 'GET', '/v1/consents', { token: person.token });
  assert.equal(res.status, 200, res.text);
});

test('no token, or another scheme, is 401 token_missing', async () => {
  const res = await refused(undefined, 401, 'token_missing');
  assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="scrollkeep"');
  await refused(undefined, 401, 'token_missing', { raw: `Basic ${Buffer.from('a:b').toString('base64')}` });
});

test('an expired token is 401 token_expired; within the 60 s skew it still passes', async () => {
  const res = await refused(personToken(person.id, { exp: now() - 120 }), 401, 'token_expired');
  assert.match(res.headers.get('www-authenticate'), /error="invalid_token"/);
  const ok = await call(server, 'GET', '/v1/consents', { token: personToken(person.id, { exp: now() - 30 }) });
  assert.equal(ok.status, 200);
});

test('a token not valid yet is 401 token_not_yet_valid', async () => {
  await refused(personToken(person.id, { nbf: now() + 600 }), 401, 'token_not_yet_valid');
  await refused(personToken(person.id, { iat: now() + 600 }), 401, 'token_not_yet_valid');
});

test('a forged token is 401 token_bad_signature', async () => {
  await refused(personToken(person.id, {}, { secret: 'another-secret-of-sufficient-length-000000' }), 401, 'token_bad_signature');
  // A valid token whose payload was swapped for another person's.
  const [h, , s] = person.token.split('.');
  const forgedPayload = Buffer.from(JSON.stringify({ aud: 'authenticated', role: 'authenticated', sub: '00000000-0000-4000-8000-000000000001', exp: now() + 3600 })).toString('base64url');
  await refused(`${h}.${forgedPayload}.${s}`, 401, 'token_bad_signature');
});

test('alg none, other algorithms and key references are refused', async () => {
  const claims = { aud: 'authenticated', role: 'authenticated', sub: person.id, exp: now() + 3600 };
  await refused(signJwt(claims, { header: { alg: 'none', typ: 'JWT' } }), 401, 'token_malformed');
  const noneWithSig = signJwt(claims, { header: { alg: 'none' } }) + 'c2ln';
  await refused(noneWithSig, 401, 'token_algorithm_refused');
  await refused(signJwt(claims, { header: { alg: 'HS512', typ: 'JWT' } }), 401, 'token_algorithm_refused');
  await refused(signJwt(claims, { header: { alg: 'RS256', typ: 'JWT' } }), 401, 'token_algorithm_refused');
  await refused(signJwt(claims, { header: { alg: 'HS256', jku: 'https://evil.example/keys' } }), 401, 'token_algorithm_refused');
});

test('a token without expiry, of the wrong audience or without a user id is 401', async () => {
  await refused(personToken(person.id, { exp: undefined }), 401, 'token_without_expiry');
  await refused(personToken(person.id, { aud: 'some-other-api' }), 401, 'token_wrong_audience');
  await refused(personToken('not-a-uuid'), 401, 'token_malformed');
  await refused(personToken(person.id, { role: undefined }), 401, 'token_without_role');
});

test('malformed tokens are 401 token_malformed', async () => {
  for (const bad of ['abc', 'a.b', 'a.b.c.d', '..', 'é.é.é', 'x'.repeat(9000), `${person.token}=`]) {
    await refused(bad, 401, 'token_malformed');
  }
});

test('a valid token of the wrong role is 403: the anon key and the service key on a person route', async () => {
  await refused(personToken(person.id, { role: 'anon' }), 403, 'role_not_allowed');
  await refused(serviceToken(), 403, 'role_not_allowed');
});
