// bench/ceiling.mjs — what PostgreSQL itself gives on this machine, measured with pgbench on the
// same cluster as the queues: the single-row INSERT commit rate from 8 clients, and the
// worker's own claim and finish statements (their exact text, from bench/queue_sql_bench)
// one job per round trip from 8 clients and 512 jobs per round trip from 2. No worker runs:
// the gap between these and bench/queue.mjs is what the worker's process costs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SECONDS = 10;

function pgbench(ctx, script, args) {
  const dir = mkdtempSync(join(tmpdir(), 'sk-pgbench-'));
  try {
    const file = join(dir, 'script.sql');
    writeFileSync(file, script);
    const out = execFileSync('pgbench', ['-h', ctx.pghost, '-U', 'postgres', '-n', '-M', 'prepared', '-f', file,
                                         ...args, ctx.db], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    const tps = out.match(/tps = ([\d.]+) \(without initial connection time\)/);
    const lat = out.match(/latency average = ([\d.]+) ms/);
    if (!tps) throw new Error(`pgbench: no tps in ${out}`);
    return { tps: Number(tps[1]), latency_ms: lat ? Number(lat[1]) : null };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/* The worker's statements with their parameters bound to pgbench variables. */
function statements(ctx, batch) {
  const sql = JSON.parse(execFileSync(join(ctx.root, 'build', 'release', 'bench', 'queue_sql_bench')).toString());
  const bind = (text, values) => values.reduceRight((t, v, i) => t.replaceAll(`$${i + 1}`, v), text);
  const claim = bind(sql.claim, [`'pgbench'`, `'{noop_job}'`, String(batch)]);
  // One claim, its ids and tokens as arrays for the finish; every job succeeded.
  const take = `WITH c AS (${claim}) SELECT array_agg(id)::text AS ids, array_agg(lease_token)::text AS toks, count(*) AS n FROM c\n\\gset\n`;
  const finish = bind(sql.finish, [`'pgbench'`, `:ids`, `:toks`, `array_fill('succeeded'::text, ARRAY[:n::int])::text`,
                                   `array_fill(''::text, ARRAY[:n::int])::text`, `array_fill(''::text, ARRAY[:n::int])::text`,
                                   `array_fill(60, ARRAY[:n::int])::text`]);
  return `${take}${finish};\n`;
}

async function preload(c, n) {
  await c.query('TRUNCATE delivery_attempts, delivery_jobs RESTART IDENTITY CASCADE');
  for (let done = 0; done < n; done += 1000) {
    const batch = Array.from({ length: Math.min(1000, n - done) }, () => ({ kind: 'noop_job', payload: {} }));
    await c.query('SELECT count(*) FROM scrollkeep.enqueue_jobs($1::jsonb)', [JSON.stringify(batch)]);
  }
  await c.query('VACUUM ANALYZE delivery_jobs');
}

async function claimFinish(ctx, c, batch, clients, perClient) {
  await preload(c, clients * perClient * batch + 1000); // never runs dry: \gset needs a row
  const r = pgbench(ctx, statements(ctx, batch), ['-c', String(clients), '-j', '2', '-t', String(perClient)]);
  const { rows: [d] } = await c.query(`SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS n FROM delivery_jobs`);
  if (d.n !== clients * perClient * batch) throw new Error(`pgbench finished ${d.n} jobs, not ${clients * perClient * batch}`);
  return { batch, clients, jobs: d.n, round_trips_per_s: r.tps, jobs_per_s: r.tps * batch };
}

export async function run(ctx) {
  const c = await ctx.client();
  await c.query('DROP TABLE IF EXISTS bench_ceiling');
  await c.query(`CREATE TABLE bench_ceiling (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                             payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
  const insert = pgbench(ctx, `INSERT INTO bench_ceiling (payload) VALUES ('{}');\n`, ['-c', '8', '-j', '2', '-T', String(SECONDS)]);
  await c.query('DROP TABLE bench_ceiling');
  console.log(`ceiling single-row INSERT commits, 8 clients: ${insert.tps.toFixed(0)} /s (latency ${insert.latency_ms} ms)`);
  const single = await claimFinish(ctx, c, 1, 8, 2500);
  console.log(`ceiling claim + finish, 1 job per round trip, 8 clients: ${single.jobs_per_s.toFixed(0)} jobs/s`);
  const batched = await claimFinish(ctx, c, 512, 2, 60);
  console.log(`ceiling claim + finish, 512 jobs per round trip, 2 clients: ${batched.jobs_per_s.toFixed(0)} jobs/s`);
  await c.query('TRUNCATE delivery_attempts, delivery_jobs RESTART IDENTITY CASCADE');
  await c.end();
  return { seconds: SECONDS, insert_commits_8_clients_per_s: insert.tps, claim_finish_single: single, claim_finish_batched: batched };
}
