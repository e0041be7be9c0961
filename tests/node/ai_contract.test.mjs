// The AI contract, proved against a chat-completions stand-in on loopback that records every
// request: only the declared fields ever leave (never the person's e-mail, ids or payment), a
// refused consent sends nothing, a malicious or oversize answer is rejected with nothing
// written, the output is written through a role that can do nothing else, and every call is
// in ai_calls by field names and input hash, never values.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, test } from 'node:test';
import { completion, outputKey, startAI } from './lib/ai.mjs';
import { baseEnv, createDatabase, startServer } from './lib/harness.mjs';
import { call, consentBody, createPerson, grant, readingBody, rowCounts } from './lib/people.mjs';

const AI_KEY = 'sk-ai-test-key-0123456789';
const OUTPUT_TABLES = ['readings', 'echoes', 'council_sessions', 'council_voices', 'delivery_jobs', 'passport_stamps'];
const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const inAWeek = () => new Date(Date.now() + 7 * 86400e3).toISOString();
const question = () => readingBody().question;

let db;
let server;
let second; // a second server: the withdrawal arrives there while the first waits on the AI
let ai;
let contracts;

before(async () => {
  db = await createDatabase();
  ai = await startAI();
  server = await startServer(baseEnv(db, { AI_API_URL: ai.url, AI_API_KEY: AI_KEY, SCROLLKEEP_AI_TIMEOUT_MS: '4000' }));
  second = await startServer(baseEnv(db));
  const { rows } = await db.query('SELECT task, input_fields, output_table, output_columns FROM scrollkeep.ai_contracts');
  contracts = Object.fromEntries(rows.map((r) => [r.task, r]));
});
after(async () => {
  await server?.stop();
  await second?.stop();
  await ai?.stop();
  await db?.drop();
});
beforeEach(() => {
  ai.received.length = 0;
  ai.reply = (r) => ({ status: 200, body: completion(JSON.stringify({ [outputKey(r.system)]: `The cards speak, ${r.received}.` })) });
  ai.onRequest = null;
});

/** A person who may use the AI, with a reading the oracle answered (or given). */
async function person(label, purposes = ['ai_processing', 'email_delivery', 'passport_sync']) {
  const p = await createPerson(db, label);
  await grant(server, p, ...purposes);
  return p;
}

/** What must never leave in a request: the person's ids, e-mail, and every public field. */
function assertNothingPrivateLeft(r, p, extra = []) {
  for (const secret of [p.id, p.email, 'public_title', 'public_line', ...extra]) {
    assert.ok(!r.raw.includes(secret), `the request carried ${secret === p.id ? 'the user id' : secret}`);
  }
}

/** Every request matches its task's declared fields, exactly. */
function assertWithinContract(r, task) {
  assert.deepEqual(Object.keys(r.user).sort(), [...contracts[task].input_fields].sort(), `${task} sent only its fields`);
  assert.equal(r.headers.authorization, `Bearer ${AI_KEY}`);
  assert.equal(r.json.response_format.type, 'json_object');
  assert.deepEqual(r.json.messages.map((m) => m.role), ['system', 'user']);
}

async function ledger(p) {
  return (await db.query('SELECT task, fields_sent, input_sha256, output_table, output_id, status, model, user_id FROM ai_calls WHERE user_id = $1 ORDER BY created_at', [p.id])).rows;
}

test('the declared contracts are the database\'s: three tasks, each with its one output table', async () => {
  assert.deepEqual(Object.keys(contracts).sort(), ['council_voice', 'echo_followup', 'reading_answer']);
  assert.deepEqual(contracts.reading_answer, { task: 'reading_answer', input_fields: ['question', 'spread'], output_table: 'readings', output_columns: ['answer'] });
  assert.equal(contracts.echo_followup.output_table, 'echoes');
  assert.equal(contracts.council_voice.output_table, 'council_voices');
  for (const c of Object.values(contracts)) {
    for (const f of c.input_fields) assert.doesNotMatch(f, /email|name|user|payment|_id$|^id$/, `${c.task} declares no identifier`);
  }
});

test('the oracle answers a question: only question and cards leave, the answer is sealed, the call is in the ledger', async () => {
  const p = await person('oracle');
  const body = readingBody({ public_title: 'Hope in bloom', public_line: 'Tended things open.' });
  delete body.answer;
  const res = await call(server, 'POST', '/v1/oracle/readings', { token: p.token, body });
  assert.equal(res.status, 201, res.text);
  assert.equal(ai.received.length, 1);
  const [r] = ai.received;
  assertWithinContract(r, 'reading_answer');
  assert.equal(r.user.question, body.question);
  assert.deepEqual(r.user.spread, body.spread);
  assertNothingPrivateLeft(r, p, [body.public_title, body.public_line]);

  const got = await call(server, 'GET', `/v1/readings/${res.json.id}`, { token: p.token });
  assert.equal(got.status, 200);
  assert.equal(got.json.answer, 'The cards speak, 1.');
  assert.equal(got.json.seal.verified, true, 'the AI\'s answer is sealed like any other');
  assert.equal(res.json.passport_stamped, true);

  const [row] = await ledger(p);
  assert.deepEqual(row.fields_sent, ['question', 'spread']);
  assert.equal(row.input_sha256, sha256(r.raw), 'the hash of exactly what was sent');
  assert.equal(row.output_table, 'readings');
  assert.equal(row.output_id, res.json.id);
  assert.equal(row.status, 'succeeded');
  assert.equal(row.model, 'stand-in-1');
  const { rows: [text] } = await db.query('SELECT row_to_json(a)::text AS t FROM ai_calls a WHERE output_id = $1', [res.json.id]);
  assert.ok(!text.t.includes('garden') && !text.t.includes('cards speak'), 'the ledger holds no value');
});

test('an Echo and a Council are written by the AI from their declared fields alone', async () => {
  const p = await person('echo');
  const reading = (await call(server, 'POST', '/v1/readings', { token: p.token, body: readingBody() })).json.id;

  const echo = await call(server, 'POST', '/v1/oracle/echoes', { token: p.token, body: { reading_id: reading, scheduled_for: inAWeek() } });
  assert.equal(echo.status, 201, echo.text);
  assert.equal(ai.received.length, 1);
  assertWithinContract(ai.received[0], 'echo_followup');
  assert.equal(ai.received[0].user.days_after, 7);
  assertNothingPrivateLeft(ai.received[0], p, [reading]);
  const { rows: [e] } = await db.query('SELECT body, status, job_id FROM echoes WHERE id = $1', [echo.json.id]);
  assert.equal(e.body, 'The cards speak, 1.');
  assert.equal(e.status, 'scheduled');
  assert.equal(String(e.job_id), String(echo.json.job.id), 'its delivery is a tracked job');

  ai.received.length = 0;
  const council = await call(server, 'POST', '/v1/oracle/council', { token: p.token, body: { reading_id: reading, voices: ['The Hermit', 'The Fool'] } });
  assert.equal(council.status, 201, council.text);
  assert.deepEqual(council.json.voices, [{ position: 1, voice: 'The Hermit' }, { position: 2, voice: 'The Fool' }]);
  assert.equal(ai.received.length, 2, 'one call per voice');
  assert.deepEqual(ai.received.map((r) => r.user.voice), ['The Hermit', 'The Fool']);
  for (const r of ai.received) {
    assertWithinContract(r, 'council_voice');
    assertNothingPrivateLeft(r, p, [reading, readingBody().answer]);
  }
  const { rows: voices } = await db.query('SELECT id, voice, body FROM council_voices WHERE session_id = $1 ORDER BY position', [council.json.id]);
  assert.deepEqual(voices.map((v) => v.body), ['The cards speak, 1.', 'The cards speak, 2.']);

  const rows = await ledger(p);
  assert.deepEqual(rows.map((r) => [r.task, r.output_table, r.status]), [
    ['echo_followup', 'echoes', 'succeeded'],
    ['council_voice', 'council_voices', 'succeeded'],
    ['council_voice', 'council_voices', 'succeeded'],
  ]);
  assert.equal(rows[0].output_id, echo.json.id);
  assert.deepEqual(rows.slice(1).map((r) => r.output_id), voices.map((v) => v.id));
});

test('without ai_processing nothing is sent and nothing is written', async () => {
  const p = await person('noai', ['email_delivery']);
  const reading = (await call(server, 'POST', '/v1/readings', { token: p.token, body: readingBody() })).json.id;
  const body = readingBody();
  delete body.answer;
  const before = await rowCounts(db, [...OUTPUT_TABLES, 'ai_calls']);
  for (const [path, b] of [
    ['/v1/oracle/readings', body],
    ['/v1/oracle/echoes', { reading_id: reading, scheduled_for: inAWeek() }],
    ['/v1/oracle/council', { reading_id: reading, voices: ['The Hermit'] }],
  ]) {
    const res = await call(server, 'POST', path, { token: p.token, body: b });
    assert.equal(res.status, 422, `${path}: ${res.text}`);
    assert.deepEqual(res.json.missing_consent, ['ai_processing'], res.text);
  }
  assert.equal(ai.received.length, 0, 'nothing left for the AI');
  assert.deepEqual(await rowCounts(db, [...OUTPUT_TABLES, 'ai_calls']), before);

  // A withdrawal while the AI is thinking: the writer role refuses in the database itself.
  await grant(server, p, 'ai_processing');
  ai.onRequest = async () => {
    const w = await call(second, 'POST', '/v1/consents', { token: p.token, body: consentBody('ai_processing', 'withdrawn') });
    assert.equal(w.status, 201, w.text);
  };
  const res = await call(server, 'POST', '/v1/oracle/readings', { token: p.token, body });
  assert.equal(res.status, 422, res.text);
  assert.deepEqual(res.json.missing_consent, ['ai_processing']);
  const after = await rowCounts(db, OUTPUT_TABLES);
  for (const t of OUTPUT_TABLES) assert.equal(after[t], before[t], `${t} untouched`);
  assert.deepEqual((await ledger(p)).map((r) => [r.status, r.output_id]), [['failed', null]], 'the call is recorded, its output is not');
});

test('a malicious, malformed or oversize answer is rejected and nothing is written', async () => {
  const p = await person('evil');
  const body = readingBody();
  delete body.answer;
  const answers = [
    ['<script>fetch("/steal")</script>', /markup/],
    ['The Star <img src=x onerror=alert(1)>', /markup/],
    ['Visit https://evil.example/claim to learn more', /link/],
    ['Click [here](javascript:alert(1))', /markdown link|link/],
    ['Hello {{link}} and {% include x %}', /template/],
    ['Quiet &#60;script&#62;', /entity/],
    ['Turn \u202eevil\u202c around', /bidirectional/],
    ['bell\u0007', /control/],
    ['x'.repeat(20001), /characters/],
    ['   ', /blank/],
  ];
  const shapes = [
    ['not json at all', /not a JSON object/],
    [JSON.stringify({ answer: 5 }), /not a JSON object/],
    [JSON.stringify({ answer: 'fine', extra: 'smuggled' }), /not a JSON object/],
    [JSON.stringify(['fine']), /not a JSON object/],
  ];
  const before = await rowCounts(db, OUTPUT_TABLES);
  const cases = [
    ...answers.map(([text, why]) => [{ status: 200, body: completion(JSON.stringify({ answer: text })) }, why, 'rejected_output']),
    ...shapes.map(([content, why]) => [{ status: 200, body: completion(content) }, why, 'rejected_output']),
    [{ status: 200, body: { choices: [] } }, /not a chat completion/, 'failed'],
    [{ status: 200, body: 'x'.repeat(300 * 1024) }, /over 256 KiB/, 'failed'],
    [{ status: 500, body: { error: { message: 'boom' } } }, /AI answered 500/, 'failed'],
    [{ status: 0 }, /could not be reached/, 'failed'],
  ];
  for (const [reply, why, status] of cases) {
    ai.reply = () => reply;
    const res = await call(server, 'POST', '/v1/oracle/readings', { token: p.token, body });
    assert.equal(res.status, 502, res.text);
    assert.match(res.json.detail, why);
    assert.ok(!res.text.includes('evil.example') && !res.text.includes('script'), 'the problem never quotes the answer');
    const rows = await ledger(p);
    assert.equal(rows.at(-1).status, status);
    assert.equal(rows.at(-1).output_id, null);
  }
  assert.equal((await ledger(p)).length, cases.length, 'every call is in the ledger');
  assert.deepEqual(await rowCounts(db, OUTPUT_TABLES), before, 'nothing written');

  // A council with one bad voice writes no session at all, and stops asking.
  const reading = (await call(server, 'POST', '/v1/readings', { token: p.token, body: readingBody() })).json.id;
  ai.received.length = 0;
  ai.reply = (r) => ({ status: 200, body: completion(JSON.stringify({ body: r.received === 1 ? 'Fine words.' : '<b>loud</b>' })) });
  const res = await call(server, 'POST', '/v1/oracle/council', { token: p.token, body: { reading_id: reading, voices: ['A', 'B', 'C'] } });
  assert.equal(res.status, 502, res.text);
  assert.equal(ai.received.length, 2, 'the third voice is never asked');
  const after = await rowCounts(db, OUTPUT_TABLES);
  assert.equal(after.council_sessions, before.council_sessions);
  assert.equal(after.council_voices, before.council_voices);
});

test('bad input is refused before anything is sent', async () => {
  const p = await person('bad');
  const other = await person('other');
  const theirs = (await call(server, 'POST', '/v1/readings', { token: other.token, body: readingBody() })).json.id;
  const cases = [
    ['/v1/oracle/readings', readingBody(), 422, /unknown field answer/],
    ['/v1/oracle/readings', { question: 'x' }, 422, /spread is required|required/],
    ['/v1/oracle/council', { reading_id: theirs, voices: ['A'] }, 404, /no such reading/],
    ['/v1/oracle/council', { reading_id: theirs, voices: [] }, 422, /voices/],
    ['/v1/oracle/council', { reading_id: theirs, voices: ['<script>'] }, 422, /voices\[0\]/],
    ['/v1/oracle/council', { reading_id: theirs, voices: Array(7).fill('A') }, 422, /voices/],
    ['/v1/oracle/echoes', { reading_id: theirs, scheduled_for: inAWeek() }, 404, /no such reading/],
  ];
  for (const [path, b, status, detail] of cases) {
    const res = await call(server, 'POST', path, { token: p.token, body: b });
    assert.equal(res.status, status, `${path} ${JSON.stringify(b).slice(0, 60)}: ${res.text}`);
    assert.match(res.json.detail, detail);
  }
  const anon = await call(server, 'POST', '/v1/oracle/readings', { body: { question: question() } });
  assert.equal(anon.status, 401);
  assert.equal(ai.received.length, 0);
});

test('the AI writer role can insert the output columns and nothing else', async () => {
  const p = await person('role');
  const reading = (await call(server, 'POST', '/v1/readings', { token: p.token, body: readingBody() })).json.id;
  const as = async (sql, params = []) => {
    try {
      await db.query(`BEGIN; SET LOCAL ROLE scrollkeep_ai_writer; ${sql}; ROLLBACK`.replace('$READING', `'${reading}'`), params);
      return 'ok';
    } catch (e) {
      await db.query('ROLLBACK').catch(() => {});
      return e.code;
    }
  };
  for (const sql of [
    'SELECT question FROM public.readings LIMIT 1',
    'SELECT count(*) FROM public.ai_calls',
    'UPDATE public.readings SET public_line = \'x\'',
    'DELETE FROM public.echoes',
    'SELECT email FROM auth.users',
    'INSERT INTO public.consent_events (user_id) VALUES (gen_random_uuid())',
    'INSERT INTO public.ai_calls (task, fields_sent, input_sha256, output_table, status) VALUES (\'reading_answer\', \'{}\', repeat(\'a\', 64), \'readings\', \'succeeded\')',
    'UPDATE public.echoes SET body = \'x\'',
  ]) {
    assert.equal(await as(sql), '42501', `the writer may not: ${sql}`);
  }
  // Its one permission, and the database's own consent check on it.
  const insertEcho = `INSERT INTO public.echoes (id, user_id, reading_id, scheduled_for, body) VALUES (gen_random_uuid(), '${p.id}', $READING, now() + interval '1 day', 'words')`;
  assert.equal(await as(insertEcho), 'ok');
  await call(server, 'POST', '/v1/consents', { token: p.token, body: consentBody('ai_processing', 'withdrawn') });
  assert.equal(await as(insertEcho), 'SKC01', 'no ai_processing, no AI output');

  // The ledger refuses a call that strays from its contract.
  const stray = db.query("INSERT INTO ai_calls (task, fields_sent, input_sha256, output_table, status) VALUES ('reading_answer', '{question,email}', repeat('a', 64), 'readings', 'succeeded')");
  await assert.rejects(stray, /does not declare/);
  const elsewhere = db.query("INSERT INTO ai_calls (task, fields_sent, input_sha256, output_table, status) VALUES ('council_voice', '{question}', repeat('a', 64), 'readings', 'succeeded')");
  await assert.rejects(elsewhere, /may write only to council_voices/);
});
