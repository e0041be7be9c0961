// The worker when things go wrong: killed with SIGKILL mid-batch (no job lost; what it held
// comes back by the rules: idempotent kinds run again, external ones wait as 'unknown'), a
// frozen worker whose late completion the lease token refuses, SIGTERM during work (running
// jobs finish, unstarted ones are released without spending anything), and PostgreSQL
// restarted under a running worker, or down for a while (the worker waits without spinning).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, env as harness, privateCluster, startWorker, waitFor } from './lib/harness.mjs';
import { attempts, enqueue, enqueueMany, job, setupTestKinds, statusCounts } from './lib/queue.mjs';

let db;
let env;
before(async () => {
  db = await createDatabase();
  await setupTestKinds(db);
  env = baseEnv(db);
});
after(async () => { await db?.drop(); });

const started = (w) => waitFor(() => w.logs().some((l) => l.event === 'worker_started'), { what: 'worker start' });
const runs = async (ids) => (await db.query('SELECT job_id, count(*)::int AS n FROM test_job_runs WHERE job_id = ANY($1) GROUP BY job_id', [ids])).rows;

test('SIGKILL mid-batch loses nothing: idempotent jobs run again, external ones wait as unknown', async () => {
  // The external job has the highest priority, so the victim surely holds it.
  const external = await enqueue(db, 'test_external_job', { sleep_ms: 3000, record: true }, { priority: 10 });
  const slow = await enqueueMany(db, 'test_job', 12, { sleep_ms: 3000, record: true });
  const victim = startWorker(env, ['--concurrency', '4', '--batch', '8', '--poll-ms', '100']);
  await waitFor(async () => (await db.query(`SELECT count(*)::int AS n FROM delivery_jobs WHERE status = 'running'`)).rows[0].n >= 5,
    { what: 'jobs leased' });
  await victim.kill();
  const held = (await db.query(`SELECT id FROM delivery_jobs WHERE status = 'running'`)).rows.map((r) => Number(r.id));
  assert.ok(held.length >= 5, 'the dead worker held jobs');

  const rescuer = startWorker(env, ['--concurrency', '4', '--poll-ms', '100']);
  try {
    await waitFor(async () => (await statusCounts(db, slow)).succeeded === 12, { ms: 40000, what: 'all idempotent jobs done' });
    await waitFor(async () => (await job(db, external)).status !== 'running', { ms: 15000, what: 'external job reaped' });
  } finally {
    assert.equal(await rescuer.stop(), 0);
  }
  for (const id of held.filter((h) => slow.includes(h))) {
    const a = await attempts(db, id);
    assert.equal(a[0].outcome, 'lease_expired', `job ${id}: the lost run is on record`);
    assert.equal(a.at(-1).outcome, 'succeeded');
  }
  assert.ok(held.includes(external), 'the victim held the external job');
  const ext = await job(db, external);
  assert.equal(ext.status, 'unknown', 'an external job is never resent blindly');
  assert.match(ext.last_error, /side effect may have happened/);
  assert.deepEqual((await attempts(db, external)).map((x) => x.outcome), ['lease_expired']);
  assert.equal((await runs([external])).length, 0, 'and it did not run again');
});

test('a frozen worker\'s late completion is refused by the lease token', async () => {
  const id = await enqueue(db, 'test_job', { sleep_ms: 1500, record: true });
  const stale = startWorker(env, ['--poll-ms', '100']);
  await waitFor(async () => (await job(db, id)).status === 'running', { what: 'leased' });
  const firstToken = (await job(db, id)).lease_token;
  stale.pause(); // no heartbeat, no completion
  const fresh = startWorker(env, ['--poll-ms', '100']);
  try {
    await waitFor(async () => (await job(db, id)).status === 'succeeded', { ms: 30000, what: 'rescued and done' });
  } finally {
    assert.equal(await fresh.stop(), 0);
  }
  const done = await job(db, id);
  stale.resume(); // it finishes its run and tries to record it
  await waitFor(() => stale.logs().some((l) => l.event === 'job_lease_lost'), { ms: 10000, what: 'lease lost' });
  assert.equal(await stale.stop(), 0);
  const after = await job(db, id);
  assert.equal(after.status, 'succeeded');
  assert.equal(String(after.finished_at), String(done.finished_at), 'the stale result changed nothing');
  assert.notEqual(firstToken, null);
  const a = await attempts(db, id);
  assert.deepEqual(a.map((x) => x.outcome), ['lease_expired', 'succeeded'], 'no attempt row from the stale worker');
});

test('SIGTERM: running jobs finish, unstarted ones are released with nothing spent', async () => {
  const ids = await enqueueMany(db, 'test_job', 4, { sleep_ms: 1200, record: true });
  const w = startWorker(env, ['--concurrency', '1', '--batch', '4', '--poll-ms', '100']);
  await waitFor(async () => (await statusCounts(db, ids)).running === 4, { what: 'four held' });
  await new Promise((r) => setTimeout(r, 300)); // the single thread is now inside the first job
  const t0 = Date.now();
  assert.equal(await w.stop('SIGTERM'), 0, 'a clean exit');
  assert.ok(Date.now() - t0 < 5000, 'it stopped promptly');
  const counts = await statusCounts(db, ids);
  assert.equal(counts.succeeded, 1, 'the running job finished');
  assert.equal(counts.queued, 3, 'the others went back');
  for (const id of ids) {
    const j = await job(db, id);
    if (j.status === 'queued') {
      assert.equal(j.attempts, 0);
      assert.equal(j.runs, 0);
      assert.equal((await attempts(db, id)).length, 0, 'a released job never ran');
    }
  }
  const events = w.logs().map((l) => l.event);
  assert.ok(events.includes('worker_stopping') && events.includes('worker_stopped'));
});

test('jobs announced while every slot is taken are claimed as soon as one frees, not at the next poll', async () => {
  // One thread, one job per claim: the worker holds two jobs, so the third of one announcement
  // finds no room. With a poll a minute away, only the kept wake-up can start it in time.
  const w = startWorker(env, ['--concurrency', '1', '--batch', '1', '--poll-ms', '60000']);
  try {
    await started(w);
    const ids = await enqueueMany(db, 'test_job', 3, { sleep_ms: 500, record: true });
    await waitFor(async () => (await statusCounts(db, ids)).succeeded === 3, { ms: 15000, what: 'all three, well before the poll' });
  } finally {
    assert.equal(await w.stop(), 0);
  }
});

test('a running worker moves the audit outbox into the chain on its own, while it goes on claiming', async () => {
  await db.query(`INSERT INTO scrollkeep.audit_outbox (actor, actor_role, action, subject_type, subject_id, details)
                  SELECT 'stripe', 'system', 'payment.recorded', 'payment', 'w' || g, jsonb_build_object('n', g)
                    FROM generate_series(1, 2500) g`);
  const before = Number((await db.query('SELECT count(*) FROM admin_audit_events')).rows[0].count);
  const w = startWorker(env, ['--poll-ms', '60000']);
  try {
    await started(w);
    const ids = await enqueueMany(db, 'test_job', 20, { record: true });
    await waitFor(async () => (await statusCounts(db, ids)).succeeded === 20, { ms: 15000, what: 'jobs done' });
    await waitFor(async () => Number((await db.query('SELECT count(*) FROM scrollkeep.audit_outbox')).rows[0].count) === 0,
      { ms: 15000, what: 'outbox flushed by the running worker' });
    assert.ok(w.logs().some((l) => l.event === 'audit_flushed'), 'the flush is logged');
  } finally {
    assert.equal(await w.stop(), 0);
  }
  const after = Number((await db.query('SELECT count(*) FROM admin_audit_events')).rows[0].count);
  assert.equal(after - before, 2500, 'every outbox event is in the chain once');
  const { rows: [v] } = await db.query(`SELECT count(*)::int AS bad FROM admin_audit_events e
                                         JOIN admin_audit_events p ON p.chain_seq = e.chain_seq - 1
                                        WHERE e.prev_hash IS DISTINCT FROM p.row_hash`);
  assert.equal(v.bad, 0, 'the chain links');
});

test('PostgreSQL restarted (fast, then immediate) under a running worker: it reconnects and drains', async () => {
  const cluster = await privateCluster();
  const clusterEnv = baseEnv(null, { DATABASE_URL: cluster.url });
  try {
    await cluster.query(`INSERT INTO scrollkeep.job_kinds (kind, side_effect, max_attempts, lease_seconds, description)
                         VALUES ('test_job', 'idempotent', 5, 5, 'test')`);
    const enqueueN = (n) => cluster.query(`SELECT count(scrollkeep.enqueue_job('test_job', '{}')) FROM generate_series(1, ${n})`);
    const done = async () => Number((await cluster.query(`SELECT count(*) FROM delivery_jobs WHERE status = 'succeeded'`)).rows[0].count);
    const w = startWorker(clusterEnv, ['--poll-ms', '200']);
    await started(w);
    await enqueueN(50);
    await waitFor(async () => (await done()) === 50, { what: 'first 50' });
    for (const mode of ['fast', 'immediate']) {
      await cluster.restart(mode);
      await enqueueN(50);
    }
    await waitFor(async () => (await done()) === 150, { ms: 30000, what: 'all 150 after restarts' });
    const events = w.logs().map((l) => l.event);
    assert.ok(events.includes('worker_disconnected') || events.includes('worker_connected'), 'it noticed and came back');
    assert.equal(await w.stop(), 0);
  } finally {
    await cluster.stop();
  }
});

/** CPU seconds a process has used (user and system), from /proc. */
function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

test('PostgreSQL down: the worker waits for it without spinning, and still stops on SIGTERM', async () => {
  const cluster = await privateCluster();
  try {
    const w = startWorker(baseEnv(null, { DATABASE_URL: cluster.url }), ['--poll-ms', '200']);
    await started(w);
    await new Promise((resolve) => {
      spawn('bash', ['-c', '. scripts/lib/cluster.sh && cluster_stop "$1" immediate', 'bash', cluster.pgdir],
            { cwd: harness.root, stdio: 'ignore' }).on('close', resolve);
    });
    await waitFor(() => w.logs().some((l) => l.event === 'db_connect_failed'), { what: 'a failed reconnect' });
    const before = cpuSeconds(w.child.pid);
    await new Promise((r) => setTimeout(r, 3000));
    const used = cpuSeconds(w.child.pid) - before;
    assert.ok(used < 0.5, `the worker used ${used} s of CPU in 3 s while waiting for the database`);
    assert.equal(await w.stop(), 0);
  } finally {
    await cluster.stop();
  }
});
