// bench/bench.mjs — runs the named benchmarks (bench/<name>.mjs) against the cluster that
// bench/run started, prints their tables and merges their figures into bench/results.json
// together with what machine and versions produced them.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

import { cpuSpent, cpuTicks, referenceLoopMs } from './machine_phase.mjs';

const ctx = {
  bin: process.env.SK_BIN,
  root: process.env.SK_ROOT,
  pghost: process.env.SK_PGHOST,
  db: process.env.SK_DB,
  url: `postgresql:///${process.env.SK_DB}?host=${process.env.SK_PGHOST}&user=scrollkeep_app`,
  async client() {
    const c = new pg.Client({ host: this.pghost, user: 'postgres', database: this.db });
    await c.connect();
    return c;
  },
};

async function machine() {
  const c = await ctx.client();
  const { rows: [v] } = await c.query(`SELECT version(), current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fsync,
                                              current_setting('shared_buffers') AS sb`);
  await c.end();
  let commit = 'unknown';
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ctx.root }).toString().trim(); } catch { /* not a checkout */ }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    postgres: v.version.split(',')[0],
    synchronous_commit: v.sc,
    fsync: v.fsync,
    shared_buffers: v.sb,
    node: process.version,
    scrollkeep_commit: commit,
    date: new Date().toISOString(),
  };
}

const names = process.argv.slice(2);
const file = path.join(ctx.root, 'bench', 'results.json');
const results = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
results.machine = await machine();
console.log(`machine: ${results.machine.cores} cores (${results.machine.cpu}), ${results.machine.postgres}, ` +
            `synchronous_commit=${results.machine.synchronous_commit}, fsync=${results.machine.fsync}`);
// SK_BENCH_TAG keeps a variant's figures apart (docs/scaling.md's runs at ten times the data
// are queue_10x and webhook_10x), so the side-by-side figures stay those of the plain run.
const tag = process.env.SK_BENCH_TAG ? `_${process.env.SK_BENCH_TAG}` : '';
for (const name of names) {
  const mod = await import(`./${name}.mjs`);
  const reference = referenceLoopMs();
  const before = cpuTicks();
  const figures = await mod.run(ctx);
  const steal = cpuSpent(before, cpuTicks()).stealShare;
  figures.machine_phase = { reference_loop_ms: Math.round(reference), steal_share: Number(steal.toFixed(3)) };
  console.log(`${name}: the machine's phase: reference loop ${Math.round(reference)} ms before, ` +
              `${(100 * steal).toFixed(0)}% of the time stolen by the hypervisor during`);
  results[`${name}${tag}`] = figures;
}
fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
console.log(`bench: wrote ${path.relative(ctx.root, file)}`);
