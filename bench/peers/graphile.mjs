// bench/peers/graphile.mjs — graphile-worker driven for bench/queue.mjs, through its documented
// API (node_modules/graphile-worker/dist/index.d.ts, interfaces.d.ts). One line of JSON per op.
//   DATABASE_URL=... node bench/peers/graphile.mjs setup|drain|enqueue|latency [--jobs N]
//     [--mode batched|single] [--clients K] [--samples N] [--concurrency C] [--batch-size B]
import { latencyLoop, main, now, peerVersion, signal, since, sleep, sql, url, waitFor } from './common.mjs';

// Worker logs each success unless NO_LOG_SUCCESS is set (read when its modules load, hence the
// dynamic import); the logger below only passes warnings and errors on, to stderr.
process.env.NO_LOG_SUCCESS ??= '1';
const { Logger, makeWorkerUtils, run, runMigrations } = await import('graphile-worker');

const PEER = 'graphile-worker';
const VERSION = peerVersion('graphile-worker');
const TASK = 'noop';
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`graphile-worker ${level}: ${message}`);
});
// No documented floor exists (default 2000 ms). Polling only matters when a fetch comes back short:
// at the very end of a drain, and on an idle queue, where LISTEN/NOTIFY wakes the workers anyway;
// 100 ms keeps 8 idle workers from flooding a 2-core box with empty get_job calls.
const POLL_MS = 100;
// Best throughput settings from interfaces.d.ts (GraphileConfig.WorkerOptions): localQueue.size
// ("if you have very high throughput and extremely fast tasks then a much higher number may make
// sense"; 1000 was on the plateau, 50-250 were slower) and completeJobBatchDelay /
// failJobBatchDelay ("Even setting this to 0 can be impactful"; 0, 10, 50 and 250 measured alike,
// and a short delay adds the least to the last completion).
const LOCAL_QUEUE_SIZE = 1000;
const BATCH_DELAY_MS = 10;

const shared = () => ({ connectionString: url(), logger });
// run() would otherwise read a crontab file from the working directory.
const noCron = { parsedCronItems: [] };

/** Remove every job left from before, via WorkerUtils (completing a job deletes it). */
async function empty(utils) {
  const { rows } = await utils.withPgClient((c) => c.query(`SELECT id, locked_by FROM graphile_worker.jobs`));
  const locked = [...new Set(rows.map((r) => r.locked_by).filter(Boolean))];
  if (locked.length) await utils.forceUnlockWorkers(locked); // left by a killed run
  if (rows.length) await utils.completeJobs(rows.map((r) => r.id));
  const { rows: [left] } = await utils.withPgClient((c) => c.query(`SELECT count(*)::int AS n FROM graphile_worker.jobs`));
  if (left.n !== 0) throw new Error(`${left.n} jobs still in graphile_worker.jobs after emptying`);
}

async function withUtils(fn) {
  const utils = await makeWorkerUtils(shared());
  try { return await fn(utils); } finally { await utils.release(); }
}

async function addBatched(utils, n) {
  for (let done = 0; done < n; done += 1000) {
    await utils.addJobs(Array.from({ length: Math.min(1000, n - done) }, () => ({ identifier: TASK, payload: {} })));
  }
}

/** run() options for a mode: the local queue and batched completion, or classic one-at-a-time. */
function runOptions(mode, concurrency, batchSize) {
  const settings = { concurrency, pollInterval: POLL_MS, maxPoolSize: Math.max(10, concurrency + 2) }; // pool: as documented for maxPoolSize
  if (mode === 'batched') {
    settings.preset = { worker: { localQueue: { size: batchSize ?? LOCAL_QUEUE_SIZE }, completeJobBatchDelay: BATCH_DELAY_MS, failJobBatchDelay: BATCH_DELAY_MS } };
  } else {
    settings.preset = { worker: { localQueue: { size: -1 }, completeJobBatchDelay: -1, failJobBatchDelay: -1 } }; // the defaults, spelled out
  }
  return settings;
}

const ops = {
  async setup() {
    await runMigrations(shared());
    await withUtils(empty);
    return { peer: PEER, version: VERSION, op: 'setup' };
  },

  async drain({ mode, jobs = 20000, concurrency = 8, batchSize }) {
    const db = await sql();
    await withUtils(async (utils) => { await empty(utils); await addBatched(utils, jobs); });
    await db.query('VACUUM ANALYZE graphile_worker._private_jobs');
    const settings = runOptions(mode, concurrency, batchSize);
    let seen = 0;
    const all = signal();
    const t0 = process.hrtime.bigint();
    const runner = await run({ ...shared(), ...settings, ...noCron, noHandleSignals: true,
                               taskList: { [TASK]: async () => { if (++seen === jobs) all.resolve(); } } });
    const startup = since(t0);
    let seconds;
    try {
      await all.promise;
      // Completion deletes the job, maybe batched after the handler returned: done when none is left.
      await waitFor(`the jobs table to empty`, async () =>
        (await db.query(`SELECT NOT EXISTS (SELECT 1 FROM graphile_worker.jobs WHERE task_identifier = $1) AS done`, [TASK])).rows[0].done);
      seconds = since(t0);
    } finally {
      await runner.stop();
      await db.end();
    }
    if (seen !== jobs) throw new Error(`handler ran ${seen} times for ${jobs} jobs`);
    return { peer: PEER, version: VERSION, op: 'drain', mode, jobs, seconds, jobs_per_s: jobs / seconds,
             startup_seconds: startup, settings };
  },

  async enqueue({ mode, jobs = mode === 'batched' ? 20000 : 5000, clients }) {
    let seconds;
    if (mode === 'batched') {
      clients = 1;
      await withUtils(async (utils) => {
        await empty(utils);
        const t0 = process.hrtime.bigint();
        await addBatched(utils, jobs);
        seconds = since(t0);
      });
    } else {
      // K WorkerUtils, each its own pool, so the K streams of addJob really run in parallel.
      const all = await Promise.all(Array.from({ length: clients }, () => makeWorkerUtils({ ...shared(), maxPoolSize: 2 })));
      try {
        await empty(all[0]);
        const t0 = process.hrtime.bigint();
        await Promise.all(all.map(async (utils, k) => {
          for (let i = k; i < jobs; i += clients) await utils.addJob(TASK, {});
        }));
        seconds = since(t0);
      } finally {
        await Promise.all(all.map((u) => u.release()));
      }
    }
    await withUtils(async (utils) => {
      const { rows: [r] } = await utils.withPgClient((c) => c.query(`SELECT count(*)::int AS n FROM graphile_worker.jobs`));
      if (r.n !== jobs) throw new Error(`${r.n} jobs in the table after enqueuing ${jobs}`);
      await empty(utils); // leave nothing behind for the next op's worker
    });
    return { peer: PEER, version: VERSION, op: 'enqueue', mode, jobs, clients, seconds, jobs_per_s: jobs / seconds };
  },

  async latency({ samples, concurrency = 4 }) {
    await withUtils(empty);
    // Classic mode: no local queue, each worker fetches as soon as the NOTIFY of a new job arrives.
    const settings = runOptions('single', concurrency);
    const started = new Array(samples).fill(undefined);
    const runner = await run({ ...shared(), ...settings, ...noCron, noHandleSignals: true,
                               taskList: { [TASK]: async (payload) => { started[payload.i] ??= now(); } } });
    try {
      await sleep(1000);
      const r = await latencyLoop(samples, (i) => runner.addJob(TASK, { i }), started);
      return { peer: PEER, version: VERSION, op: 'latency', ...r, settings: { ...settings, listenNotify: true } };
    } finally {
      await runner.stop();
    }
  },
};

await main(ops);
