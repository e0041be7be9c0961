// bench/queue.mjs — the delivery queue: 20,000 no-op jobs drained by `scrollkeep worker`
// (batched, three rounds), enqueue throughput, and enqueue-to-start latency on an idle queue.
import { spawn } from 'node:child_process';

const JOBS = 20000;
const ROUNDS = 3;

function worker(ctx, args) {
  const child = spawn(ctx.bin, ['worker', ...args], {
    env: { PATH: process.env.PATH, DATABASE_URL: ctx.url, SCROLLKEEP_MIGRATIONS_DIR: `${ctx.root}/supabase/migrations` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((res) => child.on('exit', (code) => res(code)));
  return { child, exited, get stderr() { return stderr; } };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function reset(c) {
  await c.query('TRUNCATE delivery_attempts, delivery_jobs RESTART IDENTITY CASCADE');
  await c.query('VACUUM ANALYZE delivery_jobs, delivery_attempts');
}

/** Enqueue n no-op jobs in batches of `per` through scrollkeep.enqueue_jobs. Returns seconds. */
async function enqueueBatched(c, n, per) {
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < n; done += per) {
    const batch = Array.from({ length: Math.min(per, n - done) }, () => ({ kind: 'noop_job', payload: {} }));
    await c.query('SELECT count(*) FROM scrollkeep.enqueue_jobs($1::jsonb)', [JSON.stringify(batch)]);
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Enqueue n jobs one statement each from `clients` connections at once. Returns seconds. */
async function enqueueSingly(ctx, n, clients) {
  const conns = await Promise.all(Array.from({ length: clients }, () => ctx.client()));
  const t0 = process.hrtime.bigint();
  await Promise.all(conns.map(async (c, i) => {
    for (let k = i; k < n; k += clients) await c.query(`SELECT scrollkeep.enqueue_job('noop_job', '{}')`);
  }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all(conns.map((c) => c.end()));
  return s;
}

async function drain(ctx, c, args) {
  const t0 = process.hrtime.bigint();
  const w = worker(ctx, ['--once', ...args]);
  const code = await w.exited;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (code !== 0) throw new Error(`worker exited ${code}: ${w.stderr}`);
  // The span from the first claim to the last completion, by the server's clock.
  const { rows: [r] } = await c.query(`SELECT count(*) FILTER (WHERE status = 'succeeded') AS done,
                                              extract(epoch FROM max(finished_at)
                                                - (SELECT min(started_at) FROM delivery_attempts)) AS span
                                         FROM delivery_jobs`);
  if (Number(r.done) !== JOBS) throw new Error(`only ${r.done} of ${JOBS} jobs succeeded`);
  return { wall_s: wall, jobs_per_s: JOBS / wall, span_jobs_per_s: JOBS / Number(r.span) };
}

async function latency(ctx, c, samples) {
  await reset(c);
  const w = worker(ctx, ['--poll-ms', '60000', '--concurrency', '4']);
  await sleep(1000);
  for (let i = 0; i < samples; i++) {
    await c.query(`SELECT scrollkeep.enqueue_job('noop_job', '{}')`);
    await sleep(10);
  }
  for (let t = 0; t < 200; t++) {
    const { rows: [r] } = await c.query(`SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS n FROM delivery_jobs`);
    if (r.n === samples) break;
    await sleep(50);
  }
  w.child.kill('SIGTERM');
  await w.exited;
  // created_at is the enqueue transaction's start, started_at the claim's: both server clock.
  const { rows: [p] } = await c.query(`
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
           max(ms) AS max, count(*)::int AS n
      FROM (SELECT extract(epoch FROM a.started_at - j.created_at) * 1000 AS ms
              FROM delivery_jobs j JOIN delivery_attempts a ON a.job_id = j.id) x`);
  return { samples: p.n, p50_ms: Number(p.p50), p99_ms: Number(p.p99), max_ms: Number(p.max) };
}

export async function run(ctx) {
  const c = await ctx.client();
  const out = { jobs: JOBS, drained: [], enqueue: {} };
  const configs = [
    { name: 'batched', args: ['--concurrency', '8', '--batch', '512'], vacuum: true },
    { name: 'fresh', args: ['--concurrency', '8', '--batch', '512'], vacuum: false },
  ];
  for (const cfg of configs) {
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Load, then vacuum and analyze (hint bits and statistics set, as on a queue that has
      // been running), then drain: the same procedure for every queue measured.
      await reset(c);
      await enqueueBatched(c, JOBS, 1000);
      if (cfg.vacuum) await c.query('VACUUM ANALYZE delivery_jobs');
      rounds.push(await drain(ctx, c, cfg.args));
    }
    const med = (k) => rounds.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rounds.length / 2)];
    const median = med('jobs_per_s');
    const span = med('span_jobs_per_s');
    out.drained.push({ config: cfg.name, vacuumed_after_load: cfg.vacuum, args: cfg.args.join(' '), rounds,
                       median_jobs_per_s: median, median_span_jobs_per_s: span });
    console.log(`queue drain ${cfg.name.padEnd(9)} median ${median.toFixed(0).padStart(6)} jobs/s wall (process start to exit), ` +
                `${span.toFixed(0).padStart(6)} jobs/s first claim to last completion  (${cfg.args.join(' ')})`);
  }
  await reset(c);
  const batched = await enqueueBatched(c, JOBS, 1000);
  await reset(c);
  const single = await enqueueSingly(ctx, 5000, 8);
  out.enqueue = { batched_per_s: JOBS / batched, single_8_clients_per_s: 5000 / single };
  console.log(`queue enqueue batched ${out.enqueue.batched_per_s.toFixed(0)} jobs/s; one at a time from 8 clients ${out.enqueue.single_8_clients_per_s.toFixed(0)} jobs/s`);
  out.latency = await latency(ctx, c, 300);
  console.log(`queue latency enqueue-to-start p50 ${out.latency.p50_ms.toFixed(2)} ms  p99 ${out.latency.p99_ms.toFixed(2)} ms  (${out.latency.samples} jobs on an idle queue)`);
  await c.end();
  return out;
}
