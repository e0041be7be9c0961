// The support path for deliveries: `scrollkeep jobs list|show|retry|cancel|stats` and the
// /v1/admin/jobs routes. An operator finds any delivery by its support reference, sees every
// attempt, and retries or cancels it with a reason that lands in the audit trail (with who,
// and no personal data).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, runCli, startServer, startWorker } from './lib/harness.mjs';
import { call, createPerson, serviceToken } from './lib/people.mjs';
import { enqueue, job, setupTestKinds } from './lib/queue.mjs';

let db;
let env;
let server;
before(async () => {
  db = await createDatabase();
  await setupTestKinds(db, { maxAttempts: 1 });
  env = baseEnv(db, { SCROLLKEEP_OPERATOR: 'ops.alice' });
  server = await startServer(env);
});
after(async () => {
  await server?.stop();
  await db?.drop();
});

const cli = (...args) => runCli(['jobs', ...args], { env });

async function deadJob(payload = { outcome: 'permanent' }) {
  const id = await enqueue(db, 'test_job', payload);
  const w = startWorker(env, ['--once']);
  assert.equal((await w.exited).code, 0);
  assert.equal((await job(db, id)).status, 'dead');
  return job(db, id);
}

async function audits(subjectId) {
  const { rows } = await db.query(`SELECT actor, actor_role, action, subject_type, subject_id, reason, details
                                     FROM admin_audit_events WHERE subject_id = $1 ORDER BY chain_seq`, [String(subjectId)]);
  return rows;
}

test('find a delivery by its support reference and see every attempt', async () => {
  const j = await deadJob();
  for (const ref of [String(j.id), j.support_ref]) {
    const show = await cli('show', ref, '--json');
    assert.equal(show.code, 0, show.stderr);
    const doc = JSON.parse(show.stdout);
    assert.equal(doc.job.id, Number(j.id));
    assert.equal(doc.job.status, 'dead');
    assert.equal(doc.attempts.length, 1);
    assert.equal(doc.attempts[0].outcome, 'permanent');
    assert.match(doc.attempts[0].error, /\[redacted\]/);
  }
  const text = await cli('show', j.support_ref);
  assert.match(text.stdout, new RegExp(`support_ref\\s+${j.support_ref}`));
  assert.match(text.stdout, /^1\s+\S+\s+permanent/m);
  const list = await cli('list', '--status', 'dead', '--kind', 'test_job', '--json');
  assert.ok(JSON.parse(list.stdout).jobs.some((x) => x.support_ref === j.support_ref));
  const bySupport = await cli('list', '--support-ref', j.support_ref);
  assert.match(bySupport.stdout, new RegExp(j.support_ref));
  const missing = await cli('show', 'SK-0000-0000');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no job has that id or support reference/);
});

test('retry with a reason: queued again with fresh attempts, audited with who and why', async () => {
  const j = await deadJob({ outcome: 'permanent', outcome_until: 2 });
  const refused = await cli('retry', j.support_ref);
  assert.equal(refused.code, 2, 'a reason is required');
  assert.equal((await job(db, j.id)).status, 'dead');

  const res = await cli('retry', j.support_ref, '--reason', 'provider fixed, ticket 4411');
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /dead -> queued/);
  const queued = await job(db, j.id);
  assert.equal(queued.status, 'queued');
  assert.equal(queued.max_attempts, 2, 'a fresh set of attempts');
  const [ev] = await audits(j.id);
  assert.equal(ev.actor, 'ops.alice');
  assert.equal(ev.actor_role, 'operator');
  assert.equal(ev.action, 'job.retry');
  assert.equal(ev.subject_type, 'delivery_job');
  assert.equal(ev.reason, 'provider fixed, ticket 4411');
  assert.deepEqual(ev.details, { support_ref: j.support_ref, kind: 'test_job', from: 'dead', deadline_cleared: false });

  const w = startWorker(env, ['--once']);
  assert.equal((await w.exited).code, 0);
  assert.equal((await job(db, j.id)).status, 'succeeded');
  const again = await cli('retry', j.support_ref, '--reason', 'again');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /the job is succeeded; only dead, unknown, cancelled or expired jobs can be retried/);
});

test('cancel one job, and retry or cancel all dead jobs of a kind', async () => {
  const queued = await enqueue(db, 'test_external_job', {}, { runAt: new Date(Date.now() + 3600e3).toISOString() });
  const res = await cli('cancel', String(queued), '--reason', 'customer asked to stop', '--actor', 'ops.bob');
  assert.equal(res.code, 0, res.stderr);
  assert.equal((await job(db, queued)).status, 'cancelled');
  assert.equal((await audits(queued))[0].actor, 'ops.bob');

  const a = await deadJob();
  const b = await deadJob();
  const bulk = await cli('cancel', '--dead', '--kind', 'test_job', '--reason', 'bad batch');
  assert.equal(bulk.code, 0, bulk.stderr);
  assert.match(bulk.stdout, /cancelled \d+ dead test_job jobs/);
  assert.equal((await job(db, a.id)).status, 'cancelled');
  assert.equal((await job(db, b.id)).status, 'cancelled');
  assert.equal((await audits(a.id)).length, 1, 'one audit event per job');
  assert.equal((await cli('cancel', '--dead', '--reason', 'x')).code, 2, '--dead needs --kind');
  for (const limit of ['5x', '0', '1001', '']) assert.equal((await cli('list', '--limit', limit)).code, 2, `--limit ${limit}`);
});

test('stats show every kind with its counts', async () => {
  const res = await cli('stats', '--json');
  assert.equal(res.code, 0);
  const kinds = Object.fromEntries(JSON.parse(res.stdout).kinds.map((k) => [k.kind, k]));
  for (const k of ['pdf_render_job', 'receipt_email_job', 'stripe_event_job', 'noop_job', 'test_job']) assert.ok(kinds[k], k);
  assert.ok(kinds.test_job.cancelled >= 2);
  const text = await cli('stats');
  assert.match(text.stdout, /^KIND\s+DUE\s+SCHEDULED/m);
});

test('the same over HTTP for the service role, refused to people', async () => {
  const j = await deadJob();
  const token = serviceToken();
  const list = await call(server, 'GET', `/v1/admin/jobs?status=dead&kind=test_job&limit=5`, { token });
  assert.equal(list.status, 200, list.text);
  assert.ok(list.json.jobs.some((x) => x.id === Number(j.id)));
  for (const q of ['limit=0', 'limit=1001', 'limit=5x', 'limit=', 'older_than_s=-1', 'older_than_s=1h']) {
    const bad = await call(server, 'GET', `/v1/admin/jobs?${q}`, { token });
    assert.equal(bad.status, 400, q);
    assert.match(bad.json.detail, /limit 1\.\.1000/, q);
  }
  const show = await call(server, 'GET', `/v1/admin/jobs/${j.support_ref}`, { token });
  assert.equal(show.status, 200);
  assert.equal(show.json.attempts.length, 1);

  const person = await createPerson(db);
  assert.equal((await call(server, 'GET', '/v1/admin/jobs', { token: person.token })).status, 403);
  assert.equal((await call(server, 'GET', '/v1/admin/jobs')).status, 401);

  const before = (await audits(j.id)).length;
  const leaky = await call(server, 'POST', `/v1/admin/jobs/${j.id}/retry`, { token, body: { reason: 'asked by someone@example.com' } });
  assert.equal(leaky.status, 422, 'an e-mail address cannot enter the audit trail');
  assert.equal((await job(db, j.id)).status, 'dead', 'and nothing changed');
  assert.equal((await audits(j.id)).length, before);

  const retried = await call(server, 'POST', `/v1/admin/jobs/${j.id}/retry`, { token, body: { reason: 'support ticket 12', actor: 'ops.carol' } });
  assert.equal(retried.status, 200, retried.text);
  assert.equal(retried.json.status, 'queued');
  const ev = (await audits(j.id)).at(-1);
  assert.equal(ev.actor, 'ops.carol');
  assert.equal(ev.reason, 'support ticket 12');
  assert.equal((await call(server, 'POST', `/v1/admin/jobs/${j.id}/retry`, { token, body: {} })).status, 422);
  assert.equal((await call(server, 'POST', '/v1/admin/jobs/nonsense/retry', { token, body: { reason: 'x' } })).status, 400);
  assert.equal((await call(server, 'POST', '/v1/admin/jobs/999999/retry', { token, body: { reason: 'x' } })).status, 404);
  assert.equal((await call(server, 'GET', '/v1/admin/jobs?status=lost', { token })).status, 422);
});
