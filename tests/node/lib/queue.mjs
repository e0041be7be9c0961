// tests/node/lib/queue.mjs — helpers for the queue tests: the test-only job kinds (the
// worker of a test build has handlers for them), the table their handler records runs in,
// enqueueing through the SQL function, and reading jobs back.

/** Create the test kinds (5 s leases, 3 attempts) and test_job_runs in a database. */
export async function setupTestKinds(db, { maxAttempts = 3 } = {}) {
  await db.query(`
    INSERT INTO scrollkeep.job_kinds (kind, side_effect, max_attempts, lease_seconds, description) VALUES
      ('test_job', 'idempotent', ${maxAttempts}, 5, 'test: idempotent'),
      ('test_external_job', 'external', ${maxAttempts}, 5, 'test: external side effect')
    ON CONFLICT (kind) DO NOTHING;
    CREATE TABLE IF NOT EXISTS public.test_job_runs (job_id bigint, worker text, run int,
                                                     at timestamptz DEFAULT clock_timestamp());
    GRANT INSERT, SELECT ON public.test_job_runs TO service_role;`);
}

/** Enqueue one job through scrollkeep.enqueue_job (as the superuser); returns its id. */
export async function enqueue(db, kind, payload = {}, { key = null, runAt = null, priority = 0, deliverBy = null } = {}) {
  const { rows } = await db.query(
    `SELECT scrollkeep.enqueue_job($1, $2::jsonb, $3, coalesce($4::timestamptz, now()), $5::smallint, $6::timestamptz) AS id`,
    [kind, JSON.stringify(payload), key, runAt, priority, deliverBy]);
  return Number(rows[0].id);
}

/** Enqueue n jobs in one statement (scrollkeep.enqueue_jobs); returns their ids. */
export async function enqueueMany(db, kind, n, payload = {}) {
  const jobs = Array.from({ length: n }, () => ({ kind, payload }));
  const { rows } = await db.query('SELECT scrollkeep.enqueue_jobs($1::jsonb) AS id', [JSON.stringify(jobs)]);
  return rows.map((r) => Number(r.id));
}

export async function job(db, id) {
  const { rows } = await db.query('SELECT * FROM delivery_jobs WHERE id = $1', [id]);
  return rows[0];
}

export async function attempts(db, id) {
  const { rows } = await db.query('SELECT * FROM delivery_attempts WHERE job_id = $1 ORDER BY attempt, id', [id]);
  return rows;
}

export async function statusCounts(db, ids) {
  const { rows } = await db.query('SELECT status, count(*)::int AS n FROM delivery_jobs WHERE id = ANY($1) GROUP BY status', [ids]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}
