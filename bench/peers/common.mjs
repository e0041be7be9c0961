// bench/peers/common.mjs — what graphile.mjs and pgboss.mjs share: the command line, the one line of
// JSON on stdout, the hard timeout, raw SQL through the peers' own `pg`, timing and percentiles.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg'; // bench/peers/node_modules/pg, the one the peers themselves depend on

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now(); // high-resolution ms, same clock in handler and sender

/** The installed version of a peer, from its own package.json. */
export function peerVersion(pkg) {
  return JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), 'utf8')).version;
}

/** The connection string, and a raw client for the checks the peers' APIs don't offer (VACUUM, counts). */
export const url = () => {
  if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is not set');
  return process.env.DATABASE_URL;
};
export async function sql() {
  const c = new pg.Client({ connectionString: url() });
  await c.connect();
  return c;
}

/** Seconds since `t0` (a process.hrtime.bigint()). */
export const since = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

/** Poll `check` every `ms` until it returns truthy; `what` names it if the hard timeout fires first. */
export async function waitFor(what, check, ms = 5) {
  state.waiting = what;
  for (;;) {
    if (await check()) break;
    await sleep(ms);
  }
  state.waiting = null;
}

/** A promise and its resolve, for "the handler has seen all N jobs". */
export function signal() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

/** Linear-interpolated percentile (as PostgreSQL's percentile_cont, which scrollkeep's bench uses). */
export function percentile(sorted, p) {
  const x = (sorted.length - 1) * p;
  const lo = Math.floor(x);
  const hi = Math.ceil(x);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo);
}

/**
 * The latency loop both peers share: `samples` times, note the time, await one `send(i)`, sleep
 * 10 ms. The handler calls `started(i)` on entry. Resolves to the enqueue-to-start stats in ms.
 */
export async function latencyLoop(samples, send, started) {
  const sent = new Array(samples);
  for (let i = 0; i < samples; i++) {
    sent[i] = now();
    await send(i);
    await sleep(10);
  }
  await waitFor(`all ${samples} latency jobs to start`, () => started.every((t) => t !== undefined), 10);
  const ms = started.map((t, i) => t - sent[i]).sort((a, b) => a - b);
  const r3 = (x) => Math.round(x * 1000) / 1000;
  return { samples, p50_ms: r3(percentile(ms, 0.5)), p99_ms: r3(percentile(ms, 0.99)), max_ms: r3(ms[ms.length - 1]) };
}

const state = { waiting: null };

/**
 * Parse the command line, arm the hard timeout, run `ops[op](args)`, print its one line of JSON
 * and exit 0; any failure goes to stderr with a non-zero exit. Exiting explicitly means a handle a
 * peer leaves open can never keep the process alive.
 */
export async function main(ops) {
  let args;
  try {
    const { values, positionals } = parseArgs({
      allowPositionals: true,
      options: {
        jobs: { type: 'string' }, mode: { type: 'string', default: 'batched' }, clients: { type: 'string', default: '8' },
        samples: { type: 'string', default: '300' }, concurrency: { type: 'string' },
        'batch-size': { type: 'string' }, // tuning only: graphile localQueue.size / pg-boss batchSize
        timeout: { type: 'string', default: '120' }, // seconds, the hard limit on the whole op
      },
    });
    const [op] = positionals;
    if (!ops[op]) throw new Error(`usage: <op> [options], op one of ${Object.keys(ops).join(', ')}`);
    if (!['batched', 'single'].includes(values.mode)) throw new Error(`--mode must be batched or single, not ${values.mode}`);
    const int = (name, v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${v}`);
      return n;
    };
    args = {
      op, mode: values.mode,
      jobs: values.jobs === undefined ? undefined : int('jobs', values.jobs),
      clients: int('clients', values.clients), samples: int('samples', values.samples),
      concurrency: values.concurrency === undefined ? undefined : int('concurrency', values.concurrency),
      batchSize: values['batch-size'] === undefined ? undefined : int('batch-size', values['batch-size']),
      timeout: int('timeout', values.timeout),
    };
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  const timer = setTimeout(() => {
    console.error(`${args.op}: timed out after ${args.timeout} s${state.waiting ? ` waiting for ${state.waiting}` : ''}`);
    process.exit(3);
  }, args.timeout * 1000);
  timer.unref();
  try {
    const out = await ops[args.op](args);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.exit(0);
  } catch (e) {
    console.error(`${args.op}: ${e?.stack ?? e}`);
    process.exit(1);
  }
}
