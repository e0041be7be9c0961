// tests/node/lib/people.mjs — people for the end-to-end tests: rows in auth.users, their
// access tokens, and a small client that calls the API as them.
//
// Tokens are made here with Node's own crypto (HMAC-SHA256, base64url), an implementation
// independent of scrollkeep's C verifier.
import { createHmac, randomUUID } from 'node:crypto';
import { JWT_SECRET, request } from './harness.mjs';

const b64url = (text) => Buffer.from(text).toString('base64url');

/** Sign a JWT. header.alg 'none' leaves the signature empty; other algs are signed HS256. */
export function signJwt(payload, { secret = JWT_SECRET, header = { alg: 'HS256', typ: 'JWT' } } = {}) {
  const signing = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = header.alg === 'none' ? '' : createHmac('sha256', secret).update(signing).digest('base64url');
  return `${signing}.${sig}`;
}

const now = () => Math.floor(Date.now() / 1000);

/** A Supabase access token for a person (override any claim, or pass undefined to drop it). */
export function personToken(sub, claims = {}, opts = {}) {
  const payload = { aud: 'authenticated', role: 'authenticated', sub, iat: now(), exp: now() + 3600,
                    email: 'never-read@example.test', ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  return signJwt(payload, opts);
}

/** The service role key, as Supabase makes it. */
export function serviceToken(claims = {}, opts = {}) {
  return signJwt({ iss: 'supabase', role: 'service_role', iat: now(), exp: now() + 3600, ...claims }, opts);
}

/** A person: a row in auth.users, a token, and API calls as them. */
export async function createPerson(db, label = 'person') {
  const id = randomUUID();
  await db.query('INSERT INTO auth.users (id, email) VALUES ($1, $2)', [id, `${label}-${id.slice(0, 8)}@example.test`]);
  const token = personToken(id);
  return { id, token, email: `${label}-${id.slice(0, 8)}@example.test` };
}

/** Call the API with a bearer token and an optional JSON body. */
export function call(server, method, path, { token, body, headers = {}, raw } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['Content-Type'] ??= 'application/json';
  }
  return request(server, path, { method, headers: h, body: payload });
}

/** A valid consent event body. */
export function consentBody(purpose, action = 'granted', extra = {}) {
  return {
    purpose, action, notice_version: '2026-11', notice_sha256: 'a'.repeat(64),
    language: 'en', jurisdiction: 'DE', method: 'web_form', ...extra,
  };
}

/** Grant each purpose to a person through the API. */
export async function grant(server, person, ...purposes) {
  for (const p of purposes) {
    const res = await call(server, 'POST', '/v1/consents', { token: person.token, body: consentBody(p) });
    if (res.status !== 201) throw new Error(`grant ${p}: ${res.status} ${res.text}`);
  }
}

/** A valid reading body; text can be overridden. */
export function readingBody(extra = {}) {
  return {
    question: 'Will the garden bloom again this spring?',
    answer: 'The Star says: what you tend in patience will open in its season.',
    spread: [
      { card: 'The Star', position: 'present', reversed: false },
      { card: 'Three of Cups', position: 'near future', reversed: true },
    ],
    public_title: 'The Star',
    public_line: 'Hope returns to what is tended.',
    ...extra,
  };
}

/** Count rows of each table, to prove a refused request wrote nothing. */
export async function rowCounts(db, tables) {
  const out = {};
  for (const t of tables) out[t] = Number((await db.query(`SELECT count(*) FROM ${t}`)).rows[0].count);
  return out;
}
