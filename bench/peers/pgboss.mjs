// bench/peers/pgboss.mjs — pg-boss driven for bench/queue.mjs, through its documented API
// (node_modules/pg-boss/dist/index.d.ts, types.d.ts), in its default schema `pgboss`.
//   DATABASE_URL=... node bench/peers/pgboss.mjs setup|drain|enqueue|latency [--jobs N]
//     [--mode batched|single] [--clients K] [--samples N] [--concurrency C] [--batch-size B]
import { PgBoss } from 'pg-boss';
import { latencyLoop, main, now, peerVersion, signal, since, sleep, sql, url, waitFor } from './common.mjs';

const PEER = 'pg-boss';
const VERSION = peerVersion('pg-boss');
const QUEUE = 'bench_noop';
// types.d.ts JobPollingOptions: pollingIntervalSeconds / notifyPollingIntervalSeconds "Must be >= 0.5".
const POLL_S = 0.5;
// work() batchSize for the batched drain (JobFetchOptions.batchSize): 100 to 1000 with
// localConcurrency 1 to 8 measured within noise of each other; 1000 was never below 500.
const BATCH_SIZE = 1000;

/** A started instance. pg-boss logs nothing itself; its error and warning events go to stderr. */
async function started(options = {}) {
  const boss = new PgBoss({ connectionString: url(), ...options });
  boss.on('error', (e) => console.error(`pg-boss error: ${e.message}`));
  boss.on('warning', (w) => console.error(`pg-boss warning: ${w.message}`));
  await boss.start();
  return boss;
}

async function withBoss(options, fn) {
  const boss = await started(options);
  try { return await fn(boss); } finally { await boss.stop({ graceful: true, timeout: 10000 }); }
}

const jobTable = async (boss) => `pgboss.${(await boss.getQueue(QUEUE)).table}`;

async function count(boss, db) {
  const { rows: [r] } = await db.query(`SELECT count(*)::int AS n FROM ${await jobTable(boss)} WHERE name = $1`, [QUEUE]);
  return r.n;
}

/** Remove every job of the queue left from before (completed ones are kept for days otherwise). */
async function empty(boss, db) {
  await boss.deleteAllJobs(QUEUE);
  const n = await count(boss, db);
  if (n !== 0) throw new Error(`${n} jobs still in the queue after deleteAllJobs`);
}

async function insertBatched(boss, n) {
  for (let done = 0; done < n; done += 1000) {
    await boss.insert(QUEUE, Array.from({ length: Math.min(1000, n - done) }, () => ({ data: {} })));
  }
}

/** work() options for a mode (types.d.ts WorkOptions). */
function workOptions(mode, concurrency, batchSize) {
  if (mode === 'batched') {
    // A batch per fetch, resolved by one completion; burstWhenBatchFull: "While each fetch returns
    // a full batchSize batch ... the worker keeps fetching continuously with no delay".
    return { batchSize: batchSize ?? BATCH_SIZE, localConcurrency: concurrency, pollingIntervalSeconds: POLL_S, burstWhenBatchFull: true };
  }
  // One job per fetch and per completion. burstWhenBatchFull is "Ignored when batchSize is 1", and
  // without a burst every worker sleeps out the 0.5 s poll after each job (2 jobs/s a worker);
  // burstWhenReadyExceeds is the documented burst that applies at batchSize 1. It reads the queue's
  // cached readyCount ("an integer >= 1"), which the drain refreshes before the worker starts.
  return { batchSize: 1, localConcurrency: concurrency, pollingIntervalSeconds: POLL_S, burstWhenReadyExceeds: 1 };
}

const ops = {
  async setup() {
    await withBoss({}, async (boss) => { // start() installs or migrates the schema
      // notify: every send wakes LISTENing workers at once (graphile-worker always NOTIFYs too);
      // warningQueueSize: a 20,000-job backlog is the point here, not worth a warning each drain.
      const queue = { notify: true, warningQueueSize: 1000000 };
      await boss.createQueue(QUEUE, queue); // a no-op if it exists
      await boss.updateQueue(QUEUE, queue);
      const db = await sql();
      try { await empty(boss, db); } finally { await db.end(); }
    });
    return { peer: PEER, version: VERSION, op: 'setup' };
  },

  async drain({ mode, jobs = 20000, concurrency = 8, batchSize }) {
    const db = await sql();
    try {
      // Load with one instance (monitoring every second so supervise() can recount at once), and
      // drain with a fresh one whose start() caches the queue's readyCount of N.
      await withBoss({ monitorIntervalSeconds: 1 }, async (boss) => {
        await empty(boss, db);
        await insertBatched(boss, jobs);
        await db.query(`VACUUM ANALYZE ${await jobTable(boss)}, pgboss.queue`);
        await waitFor('pg-boss to count the backlog', async () => {
          await boss.supervise(QUEUE);
          return (await boss.getQueue(QUEUE)).readyCount === jobs;
        }, 250);
      });
      const settings = workOptions(mode, concurrency, batchSize);
      let seen = 0;
      const all = signal();
      const t0 = process.hrtime.bigint();
      const boss = await started();
      let seconds, startup, table;
      try {
        await boss.work(QUEUE, settings, async (batch) => { seen += batch.length; if (seen >= jobs) all.resolve(); });
        startup = since(t0);
        table = await jobTable(boss);
        await all.promise;
        // The handler has returned for all N; done once pg-boss has committed every completion.
        await waitFor('every job to be completed', async () => (await db.query(
          `SELECT count(*) FILTER (WHERE state = 'completed')::int AS n FROM ${table} WHERE name = $1`, [QUEUE])).rows[0].n === jobs);
        seconds = since(t0);
        await boss.offWork(QUEUE);
        await empty(boss, db); // completed jobs stay for days: leave none behind in the shared database
      } finally {
        await boss.stop({ graceful: true, timeout: 10000 });
      }
      if (seen !== jobs) throw new Error(`handler saw ${seen} jobs for ${jobs}`);
      return { peer: PEER, version: VERSION, op: 'drain', mode, jobs, seconds, jobs_per_s: jobs / seconds,
               startup_seconds: startup, settings };
    } finally {
      await db.end();
    }
  },

  async enqueue({ mode, jobs = mode === 'batched' ? 20000 : 5000, clients }) {
    const db = await sql();
    try {
      let seconds;
      if (mode === 'batched') {
        clients = 1;
        await withBoss({}, async (boss) => {
          await empty(boss, db);
          const t0 = process.hrtime.bigint();
          await insertBatched(boss, jobs);
          seconds = since(t0);
        });
      } else {
        // K instances, each its own pool, sending one job per call; producers only, so no
        // maintenance or cron timers (ConstructorOptions supervise / schedule).
        const all = await Promise.all(Array.from({ length: clients }, () => started({ max: 2, supervise: false, schedule: false })));
        try {
          await empty(all[0], db);
          const t0 = process.hrtime.bigint();
          await Promise.all(all.map(async (boss, k) => {
            for (let i = k; i < jobs; i += clients) await boss.send(QUEUE, {});
          }));
          seconds = since(t0);
        } finally {
          await Promise.all(all.map((b) => b.stop({ graceful: true, timeout: 10000 })));
        }
      }
      await withBoss({}, async (boss) => {
        const n = await count(boss, db);
        if (n !== jobs) throw new Error(`${n} jobs in the queue after enqueuing ${jobs}`);
        await empty(boss, db); // leave nothing behind for the next op's worker
      });
      return { peer: PEER, version: VERSION, op: 'enqueue', mode, jobs, clients, seconds, jobs_per_s: jobs / seconds };
    } finally {
      await db.end();
    }
  },

  async latency({ samples, concurrency = 4 }) {
    const db = await sql();
    // LISTEN/NOTIFY (ConstructorOptions useListenNotify + the queue's notify), single-job fetches.
    const boss = await started({ useListenNotify: true });
    try {
      await empty(boss, db);
      const settings = { batchSize: 1, localConcurrency: concurrency, pollingIntervalSeconds: POLL_S, notifyPollingIntervalSeconds: POLL_S };
      const starts = new Array(samples).fill(undefined);
      await boss.work(QUEUE, settings, async ([job]) => { starts[job.data.i] ??= now(); });
      await sleep(1000);
      const r = await latencyLoop(samples, (i) => boss.send(QUEUE, { i }), starts);
      await boss.offWork(QUEUE);
      await empty(boss, db);
      return { peer: PEER, version: VERSION, op: 'latency', ...r, settings: { ...settings, useListenNotify: true, queueNotify: true } };
    } finally {
      await boss.stop({ graceful: true, timeout: 10000 });
      await db.end();
    }
  },
};

await main(ops);
