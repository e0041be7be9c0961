// E-mail through a real SMTP server on loopback (npm smtp-server, parsed by mailparser):
// what a message holds and does not hold, the provider reference on the attempt, a server
// that answers 4xx and then accepts, one that answers 5xx, an outage that delays mail without
// losing or duplicating it, consent withdrawn before the send, the Echo and access recovery
// messages. Every message the server ever received is searched for the private text.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { startSmtp } from './lib/smtp.mjs';
import { baseEnv, createDatabase, startServer, startWorker, tempDir, waitFor } from './lib/harness.mjs';
import { call, consentBody, createPerson, grant, readingBody } from './lib/people.mjs';
import { attempts, enqueue, job } from './lib/queue.mjs';

const QUESTION = 'Hidden-Question-51d2: should Ottoline <i>leave</i> the city?';
const ANSWER = 'Hidden-Answer-0b7e: the Hermit lights one lamp at a time.';

let db;
let env;
let smtp;
let server;
let owner;
let reading;
let store;
const everything = [];

before(async () => {
  db = await createDatabase();
  smtp = await startSmtp();
  store = tempDir('sk-store-');
  env = baseEnv(db, { ARTIFACT_DIR: store, SMTP_URL: smtp.url, MAIL_FROM: 'The Oracle <oracle@scrollkeep.test>' });
  server = await startServer(env);
  owner = await createPerson(db, 'owner');
  await grant(server, owner, 'email_delivery');
  const res = await call(server, 'POST', '/v1/readings', { token: owner.token, body: readingBody({ question: QUESTION, answer: ANSWER }) });
  assert.equal(res.status, 201, res.text);
  reading = res.json;
});
after(async () => {
  await server?.stop();
  await smtp?.stop();
  await db?.drop();
  fs.rmSync(store, { recursive: true, force: true });
});

/** The artifact_ready e-mail job of a fresh artifact row (rendered elsewhere). */
async function readyEmailJob() {
  const { rows: [art] } = await db.query(
    `INSERT INTO oracle_artifacts (user_id, reading_id, kind, visibility, request_key) VALUES ($1, $2, 'pdf', 'private', gen_random_uuid()::text) RETURNING id`,
    [owner.id, reading.id]);
  const id = await enqueue(db, 'artifact_ready_email_job', { artifact_id: art.id, user_id: owner.id });
  return { artifact: art.id, id };
}

async function drain() {
  const w = startWorker(env, ['--once']);
  const { code } = await w.exited;
  assert.equal(code, 0, w.stderr);
}

function received(messageId) {
  return smtp.received.filter((m) => m.parsed.messageId === messageId);
}

test('a message over SMTP: a link and no reading text, the reply kept as the provider reference', async () => {
  const { artifact, id } = await readyEmailJob();
  await drain();
  assert.equal((await job(db, id)).status, 'succeeded');
  assert.equal(smtp.received.length, 1);
  const [{ parsed, envelope, raw }] = smtp.received;
  everything.push(raw);
  assert.equal(envelope.mailFrom.address, 'oracle@scrollkeep.test');
  assert.deepEqual(envelope.rcptTo.map((r) => r.address), [owner.email], 'the address was looked up at send time');
  assert.equal(parsed.to.text, owner.email);
  assert.equal(parsed.from.text, '"The Oracle" <oracle@scrollkeep.test>');
  assert.equal(parsed.subject, 'Your PDF is ready');
  assert.equal(parsed.messageId, `<sk-${id}@scrollkeep.test>`);
  assert.ok(parsed.date instanceof Date && Math.abs(parsed.date - Date.now()) < 120e3, 'a Date header');
  assert.match(parsed.headers.get('content-type').value, /^multipart\/alternative$/);
  assert.match(parsed.text, new RegExp(`http://127\\.0\\.0\\.1:3000/readings/${reading.id}/artifacts/${artifact}`));
  assert.match(parsed.html, new RegExp(`href="http://127\\.0\\.0\\.1:3000/readings/${reading.id}/artifacts/${artifact}"`));

  const [a] = await attempts(db, id);
  assert.equal(a.outcome, 'succeeded');
  assert.match(a.provider_ref, /^250 .*Ok: queued as TEST1$/, 'the SMTP reply');
  const { rows: [m] } = await db.query('SELECT * FROM email_messages WHERE job_id = $1', [id]);
  assert.equal(m.status, 'sent');
  assert.equal(m.provider_ref, a.provider_ref);
  assert.equal(m.message_id, parsed.messageId);
  assert.ok(!JSON.stringify(m).includes(owner.email), 'no address in email_messages');
  const { rows: [j] } = await db.query('SELECT payload::text AS p FROM delivery_jobs WHERE id = $1', [id]);
  assert.ok(!j.p.includes('@'), 'no address in the job');
});

test('a server that answers 451 twice and then accepts: retried, delivered once', async () => {
  smtp.refuse = { code: 451, times: 2, text: 'try again later' };
  const before = smtp.received.length;
  const { id } = await readyEmailJob();
  const w = startWorker(env);
  try {
    await waitFor(async () => (await job(db, id)).status === 'succeeded', { ms: 30000, what: 'the third attempt' });
  } finally {
    await w.stop();
  }
  const runs = await attempts(db, id);
  assert.deepEqual(runs.map((a) => a.outcome), ['transient', 'transient', 'succeeded']);
  assert.match(runs[0].error, /451.*try again later/);
  assert.equal(smtp.received.length, before + 1);
  assert.equal(received(`<sk-${id}@scrollkeep.test>`).length, 1, 'one message, once');
  everything.push(...smtp.received.map((m) => m.raw));
});

test('a server that answers 550: the job is dead with the reason, nothing was delivered', async () => {
  smtp.refuse = { code: 550, times: -1, text: 'mailbox unavailable' };
  const before = smtp.received.length;
  const { id } = await readyEmailJob();
  await drain();
  smtp.refuse = null;
  const j = await job(db, id);
  assert.equal(j.status, 'dead');
  assert.match(j.last_error, /refused the message: 550.*mailbox unavailable/);
  assert.equal((await attempts(db, id)).length, 1, 'a permanent refusal is not retried');
  assert.equal(smtp.received.length, before);
  const { rows: [m] } = await db.query('SELECT status FROM email_messages WHERE job_id = $1', [id]);
  assert.equal(m.status, 'failed');
});

test('an SMTP outage delays mail: the kind pauses, nothing is lost, nothing is sent twice', async () => {
  const port = smtp.port;
  await smtp.stop();
  const before = smtp.received.length;
  const { id } = await readyEmailJob();
  await drain();
  const down = await job(db, id);
  assert.equal(down.status, 'queued', 'still waiting, not dead');
  assert.equal(down.attempts, 0, 'an outage spends no attempt');
  const [a] = await attempts(db, id);
  assert.equal(a.outcome, 'provider_down');
  assert.match(a.error, /cannot be reached/);
  const { rows: [kind] } = await db.query(
    `SELECT extract(epoch FROM paused_until - now()) AS s FROM scrollkeep.job_kinds WHERE kind = 'artifact_ready_email_job'`);
  assert.ok(kind.s > 20 && kind.s <= 30, `the kind pauses for about 30 s (${kind.s})`);

  await smtp.start(port);
  await drain();
  assert.equal((await job(db, id)).status, 'queued', 'the pause holds while it lasts');
  // The pause runs out (time passes), and the mail goes out once.
  await db.query(`UPDATE scrollkeep.job_kinds SET paused_until = NULL WHERE kind = 'artifact_ready_email_job'`);
  await db.query('UPDATE delivery_jobs SET next_run_at = now() WHERE id = $1', [id]);
  await drain();
  assert.equal((await job(db, id)).status, 'succeeded');
  assert.equal(smtp.received.length, before + 1);
  assert.equal(received(`<sk-${id}@scrollkeep.test>`).length, 1);
  everything.push(...smtp.received.map((m) => m.raw));
});

test('an SMTP_URL that asks for STARTTLS never falls back to plain text', async () => {
  const before = smtp.received.length;
  const { id } = await readyEmailJob();
  const w = startWorker({ ...env, SMTP_URL: `${smtp.url}?starttls=required` }, ['--once']);
  assert.equal((await w.exited).code, 0, w.stderr);
  const j = await job(db, id);
  assert.notEqual(j.status, 'succeeded');
  assert.match(j.last_error, /SSL|TLS/i);
  assert.equal(smtp.received.length, before, 'nothing was handed over in the clear');
  await db.query(`UPDATE delivery_jobs SET status = 'cancelled', finished_at = now() WHERE id = $1`, [id]);
});

test('a resend of a delivery already sent is recognised and not sent again', async () => {
  const { id } = await readyEmailJob();
  await drain();
  const before = smtp.received.length;
  // An operator (or a lost acknowledgement) runs the same delivery again.
  await db.query(`UPDATE delivery_jobs SET status = 'queued', max_attempts = max_attempts + 1, next_run_at = now(),
                  finished_at = NULL WHERE id = $1`, [id]);
  await drain();
  assert.equal((await job(db, id)).status, 'succeeded');
  assert.equal(smtp.received.length, before, 'the same Message-ID is not sent twice');
  const runs = await attempts(db, id);
  assert.equal(runs.at(-1).provider_ref, 'already sent');
});

test('the Echo arrives when due, as a link; the echo is marked delivered', async () => {
  const when = new Date(Date.now() + 3600e3).toISOString();
  const { rows: [e] } = await db.query(
    `INSERT INTO echoes (user_id, reading_id, scheduled_for) VALUES ($1, $2, $3) RETURNING id`, [owner.id, reading.id, when]);
  const id = await enqueue(db, 'echo_delivery_job', { echo_id: e.id, user_id: owner.id });
  await drain();
  assert.equal((await job(db, id)).status, 'succeeded');
  const [m] = received(`<sk-${id}@scrollkeep.test>`);
  assert.ok(m, 'the echo e-mail');
  assert.match(m.parsed.text, new RegExp(`/readings/${reading.id}/echoes/${e.id}`));
  const { rows: [echo] } = await db.query('SELECT status, delivered_at FROM echoes WHERE id = $1', [e.id]);
  assert.equal(echo.status, 'delivered');
  assert.ok(echo.delivered_at);
  everything.push(m.raw);
});

test('access recovery: a link to recover the account', async () => {
  const id = await enqueue(db, 'recovery_email_job', { user_id: owner.id });
  await drain();
  assert.equal((await job(db, id)).status, 'succeeded');
  const [m] = received(`<sk-${id}@scrollkeep.test>`);
  assert.ok(m);
  assert.match(m.parsed.text, /http:\/\/127\.0\.0\.1:3000\/account\/recover/);
  everything.push(m.raw);
});

test('email_delivery withdrawn before the send: the job is cancelled and nothing is sent', async () => {
  const { id } = await readyEmailJob();
  const recovery = await enqueue(db, 'recovery_email_job', { user_id: owner.id });
  const res = await call(server, 'POST', '/v1/consents', { token: owner.token, body: consentBody('email_delivery', 'withdrawn') });
  assert.equal(res.status, 201, res.text);
  const before = smtp.received.length;
  await drain();
  for (const j of [id, recovery]) {
    const row = await job(db, j);
    assert.equal(row.status, 'cancelled');
    assert.match(row.last_error, /email_delivery is not granted/);
  }
  assert.equal(smtp.received.length, before);
  const { rows } = await db.query('SELECT count(*)::int AS n FROM email_messages WHERE job_id = ANY($1)', [[id, recovery]]);
  assert.equal(rows[0].n, 0, 'no message was even recorded');
});

test('no message the server received holds the question or the answer', () => {
  const all = [...new Set([...everything, ...smtp.received.map((m) => m.raw)])];
  assert.ok(all.length >= 6, `${all.length} messages searched`);
  for (const raw of all) {
    const decoded = raw.replace(/\r\n/g, '\n');
    for (const secret of ['Hidden-Question-51d2', 'Hidden-Answer-0b7e', 'Ottoline', 'Hermit']) {
      assert.ok(!decoded.includes(secret), `a message holds ${secret}`);
    }
  }
  // Bodies are base64: search the decoded text as well.
  for (const m of smtp.received) {
    const text = `${m.parsed.subject}\n${m.parsed.text}\n${m.parsed.html}`;
    for (const secret of ['Hidden-Question-51d2', 'Hidden-Answer-0b7e', 'Ottoline', 'Hermit']) {
      assert.ok(!text.includes(secret), `a message holds ${secret}`);
    }
  }
});
