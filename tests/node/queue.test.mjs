// The delivery queue against the real PostgreSQL, driven by real `scrollkeep worker`
// processes: enqueue from SQL (one and a batch), idempotency, wake-up by NOTIFY and by
// polling, SKIP LOCKED across workers with no job run twice, the backoff schedule, dead after
// max attempts, permanent and provider-down outcomes, deadlines, redacted errors, and a claim
// that still reads by its index after the table grew since its last analyze.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, startWorker, waitFor } from './lib/harness.mjs';
import { attempts, enqueue, enqueueMany, job, setupTestKinds, statusCounts } from './lib/queue.mjs';

let db;
let env;
before(async () => {
  db = await createDatabase();
  await setupTestKinds(db);
  env = baseEnv(db);
});
after(async () => { await db?.drop(); });

const status = async (id) => (await job(db, id)).status;
const untilStatus = (id, want, ms = 20000) => waitFor(async () => (await status(id)) === want, { ms, what: `job ${id} ${want}` });

test('enqueue from SQL: one job, a batch, and the same idempotency key returning the same job', async () => {
  const id = await enqueue(db, 'noop_job', { note_id: 1 }, { key: 'k-1', priority: 7 });
  assert.equal(await enqueue(db, 'noop_job', { note_id: 2 }, { key: 'k-1' }), id);
  const j = await job(db, id);
  assert.equal(j.status, 'queued');
  assert.equal(j.priority, 7);
  assert.equal(j.max_attempts, 3, 'max_attempts comes from the kind');
  assert.match(j.support_ref, /^SK-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  const ids = await enqueueMany(db, 'noop_job', 25);
  assert.equal(new Set(ids).size, 25);
  await assert.rejects(enqueue(db, 'no_such_job', {}), /unknown job kind/);
  await assert.rejects(enqueue(db, 'noop_job', { email: 'x@example.test' }), /violates check constraint/);
  const w = startWorker(env, ['--once']);
  assert.equal((await w.exited).code, 0);
  assert.deepEqual(await statusCounts(db, [id, ...ids]), { succeeded: 26 });
});

test('a NOTIFY wakes an idle worker at once; polling finds what no notification announced', async () => {
  const w = startWorker(env, ['--poll-ms', '60000']);
  try {
    await waitFor(() => w.logs().some((l) => l.event === 'worker_started'), { what: 'start' });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const id = await enqueue(db, 'test_job', { record: true });
    await untilStatus(id, 'succeeded', 3000);
    assert.ok(Date.now() - t0 < 2000, 'the notification woke the worker (polling is a minute here)');
  } finally {
    assert.equal(await w.stop(), 0);
  }
  const p = startWorker(env, ['--poll-ms', '200']);
  try {
    await waitFor(() => p.logs().some((l) => l.event === 'worker_started'), { what: 'start' });
    // A job inserted without enqueue_job sends no notification.
    const { rows } = await db.query(`
      INSERT INTO delivery_jobs (kind, max_attempts, payload) VALUES ('test_job', 3, '{"record": true}') RETURNING id`);
    await untilStatus(rows[0].id, 'succeeded', 3000);
  } finally {
    assert.equal(await p.stop(), 0);
  }
});

test('several workers share the queue with SKIP LOCKED and no job runs twice', async () => {
  const ids = await enqueueMany(db, 'test_job', 300, { record: true });
  const workers = [0, 1, 2].map(() => startWorker(env, ['--concurrency', '4', '--poll-ms', '100']));
  try {
    await waitFor(async () => (await statusCounts(db, ids)).succeeded === 300, { ms: 30000, what: 'all 300 done' });
  } finally {
    for (const w of workers) assert.equal(await w.stop(), 0);
  }
  const { rows } = await db.query(`SELECT job_id, count(*)::int AS n FROM test_job_runs WHERE job_id = ANY($1) GROUP BY job_id`, [ids]);
  assert.equal(rows.length, 300, 'every job ran');
  assert.ok(rows.every((r) => r.n === 1), 'and each ran once');
  const { rows: by } = await db.query(`SELECT count(DISTINCT worker)::int AS n FROM test_job_runs WHERE job_id = ANY($1)`, [ids]);
  assert.ok(by[0].n >= 2, 'the work was shared');
  const { rows: att } = await db.query(`SELECT count(*)::int AS n FROM delivery_attempts WHERE job_id = ANY($1) AND outcome = 'succeeded'`, [ids]);
  assert.equal(att[0].n, 300, 'one attempt row each');
});

test('transient failures back off exponentially with jitter, then the job is dead', async () => {
  const id = await enqueue(db, 'test_job', { outcome: 'transient' });
  const w = startWorker(env, ['--poll-ms', '100']);
  try {
    await untilStatus(id, 'dead', 20000);
  } finally {
    assert.equal(await w.stop(), 0);
  }
  const a = await attempts(db, id);
  assert.deepEqual(a.map((x) => [x.attempt, x.outcome]), [[1, 'transient'], [2, 'transient'], [3, 'transient']]);
  // The gaps between attempts follow 2 s then 4 s, each ±25 % (plus the poll interval).
  const gap1 = (a[1].started_at - a[0].finished_at) / 1000;
  const gap2 = (a[2].started_at - a[1].finished_at) / 1000;
  assert.ok(gap1 >= 1.5 && gap1 <= 2.5 + 0.3, `first retry after ${gap1}s`);
  assert.ok(gap2 >= 3.0 && gap2 <= 5.0 + 0.3, `second retry after ${gap2}s`);
  const j = await job(db, id);
  assert.equal(j.attempts, 3);
  assert.ok(j.finished_at);
  assert.equal(j.last_error, 'test transient failure for [redacted] (should be redacted)', 'errors are redacted before they are stored');
  assert.ok(a.every((x) => !x.error.includes('@')));
  assert.equal(a[0].provider_ref, `test-ref-${id}-1`, 'the provider reference is recorded on the attempt');
  const { rows: [cap] } = await db.query(`SELECT min(extract(epoch FROM scrollkeep.retry_delay(30))) AS lo,
                                                max(extract(epoch FROM scrollkeep.retry_delay(30))) AS hi
                                           FROM generate_series(1, 200)`);
  assert.ok(cap.lo >= 2700 && cap.hi <= 4500, 'the backoff is capped at an hour (±25 %)');
});

test('a permanent failure is dead at once', async () => {
  const id = await enqueue(db, 'test_job', { outcome: 'permanent' });
  const w = startWorker(env, ['--once']);
  assert.equal((await w.exited).code, 0);
  const j = await job(db, id);
  assert.equal(j.status, 'dead');
  assert.equal(j.attempts, 1);
  assert.deepEqual((await attempts(db, id)).map((x) => x.outcome), ['permanent']);
});

test('provider down: retried without spending an attempt, and the whole kind backs off', async () => {
  const down = await enqueue(db, 'test_external_job', { outcome: 'provider_down', outcome_until: 3 });
  const w = startWorker(env, ['--poll-ms', '100']);
  try {
    await waitFor(async () => (await attempts(db, down)).length >= 1, { what: 'first run' });
    const j = await job(db, down);
    assert.equal(j.status, 'queued');
    assert.equal(j.attempts, 0, 'no attempt spent');
    const { rows: [k] } = await db.query(`SELECT paused_until > now() AS paused FROM scrollkeep.job_kinds WHERE kind = 'test_external_job'`);
    assert.equal(k.paused, true, 'the kind is paused');
    const other = await enqueue(db, 'test_external_job', {});
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(await status(other), 'queued', 'nothing of a paused kind is claimed');
    await untilStatus(down, 'succeeded', 20000);
    await untilStatus(other, 'succeeded', 20000);
  } finally {
    assert.equal(await w.stop(), 0);
  }
  const a = await attempts(db, down);
  assert.deepEqual(a.map((x) => x.outcome), ['provider_down', 'provider_down', 'succeeded']);
  assert.deepEqual(a.map((x) => x.attempt), [1, 2, 3], 'every run has its attempt row');
  assert.equal((await job(db, down)).attempts, 1, 'only the successful run spent an attempt');
});

test('a job past its deadline never runs: it expires', async () => {
  const late = await enqueue(db, 'test_job', { record: true }, {
    runAt: new Date(Date.now() + 1500).toISOString(), deliverBy: new Date(Date.now() + 1000).toISOString() });
  const onTime = await enqueue(db, 'test_job', { record: true }, { deliverBy: new Date(Date.now() + 60000).toISOString() });
  const w = startWorker(env, ['--poll-ms', '100']);
  try {
    await untilStatus(onTime, 'succeeded');
    await untilStatus(late, 'expired', 10000);
  } finally {
    assert.equal(await w.stop(), 0);
  }
  const j = await job(db, late);
  assert.equal(j.last_error, 'the deadline passed before it could run');
  const { rows } = await db.query('SELECT count(*)::int AS n FROM test_job_runs WHERE job_id = $1', [late]);
  assert.equal(rows[0].n, 0);
});

test('higher priority runs first', async () => {
  const low = await enqueueMany(db, 'test_job', 5, { record: true });
  const high = await enqueue(db, 'test_job', { record: true }, { priority: 50 });
  const w = startWorker(env, ['--once', '--concurrency', '1', '--batch', '1']);
  assert.equal((await w.exited).code, 0);
  const { rows } = await db.query(`SELECT job_id FROM test_job_runs WHERE job_id = ANY($1) ORDER BY at`, [[...low, high]]);
  assert.equal(Number(rows[0].job_id), high);
});

test('the claim orders across kinds, and a backlog of a kind the worker does not run holds nothing up', async () => {
  const low = await enqueueMany(db, 'test_job', 3, { record: true });
  const high = await enqueue(db, 'test_external_job', { record: true }, { priority: 40 });
  let w = startWorker(env, ['--once', '--concurrency', '1', '--batch', '1']);
  assert.equal((await w.exited).code, 0);
  const { rows } = await db.query(`SELECT job_id FROM test_job_runs WHERE job_id = ANY($1) ORDER BY at`, [[...low, high]]);
  assert.equal(Number(rows[0].job_id), high, 'the higher priority of another kind runs first');

  const waiting = await enqueueMany(db, 'test_external_job', 200, { record: true });
  const mine = await enqueue(db, 'test_job', { record: true });
  w = startWorker(env, ['--once', '--kinds', 'test_job']);
  assert.equal((await w.exited).code, 0);
  assert.equal(await status(mine), 'succeeded', 'its own kind is claimed behind the other kind');
  const { rows: [left] } = await db.query(`SELECT count(*)::int AS n FROM delivery_jobs WHERE id = ANY($1) AND status = 'queued'`, [waiting]);
  assert.equal(left.n, 200, 'the other kind is left queued');
});

test('a queue that grew since it was last analyzed is still read by its index, not scanned whole on every claim', async () => {
  // A database of its own: its delivery_jobs analyzed while empty, and no autovacuum to
  // analyze it again, as on a fresh database hit by a burst between two analyzes.
  const fresh = await createDatabase();
  try {
    await setupTestKinds(fresh);
    await fresh.query('ALTER TABLE delivery_jobs SET (autovacuum_enabled = false)');
    await fresh.query('ANALYZE delivery_jobs');
    const freshStatus = async (id) => (await job(fresh, id)).status;
    const w = startWorker(baseEnv(fresh), ['--kinds', 'test_job', '--concurrency', '1', '--poll-ms', '20']);
    try {
      // Claims enough to have a plan cached while the table is small.
      for (let i = 0; i < 8; i++) {
        const id = await enqueue(fresh, 'test_job');
        await waitFor(async () => (await freshStatus(id)) === 'succeeded', { what: `small-table job ${i}` });
      }
      await fresh.query(`INSERT INTO delivery_jobs (kind, payload, max_attempts)
                         SELECT 'test_external_job', '{}', 3 FROM generate_series(1, 20000)`);
      for (let i = 0; i < 4; i++) {
        const id = await enqueue(fresh, 'test_job');
        await waitFor(async () => (await freshStatus(id)) === 'succeeded', { what: `grown-table job ${i}` });
      }
    } finally {
      assert.equal(await w.stop(), 0);
    }
    // A backend reports its reads as it ends, before it leaves pg_stat_activity.
    await waitFor(async () => (await fresh.query(`SELECT count(*)::int AS n FROM pg_stat_activity
                                                   WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows[0].n === 0,
                  { what: 'the worker\'s backends gone' });
    const { rows: [t] } = await fresh.query(`SELECT seq_tup_read::int AS n FROM pg_stat_user_tables WHERE relid = 'public.delivery_jobs'::regclass`);
    assert.ok(t.n < 20000, `the claims read ${t.n} rows of delivery_jobs by sequential scan: less than one whole table`);
  } finally {
    await fresh.drop();
  }
});
