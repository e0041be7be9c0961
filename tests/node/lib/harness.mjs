// tests/node/lib/harness.mjs — what the end-to-end tests share: throwaway databases cloned
// from the migrated template, the real scrollkeep binary run as a CLI or as a server on a
// free loopback port, and a superuser connection for looking behind the API.
//
// tests/run sets SK_BIN, SK_ROOT, SK_PGHOST (the cluster's socket directory), SK_TEMPLATE.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export const env = {
  bin: process.env.SK_BIN,
  root: process.env.SK_ROOT,
  pghost: process.env.SK_PGHOST,
  template: process.env.SK_TEMPLATE ?? 'sk_template',
};
if (!env.bin || !env.pghost) throw new Error('run the node tests through tests/run (make test)');

export const migrationsDir = path.join(env.root, 'supabase', 'migrations');
export const JWT_SECRET = 'test-jwt-secret-that-is-long-enough-0123456789';

/** A connection as the cluster's superuser (to look behind the API and to set up). */
export async function superuser(database = 'postgres') {
  const client = new pg.Client({ host: env.pghost, user: 'postgres', database });
  await client.connect();
  return client;
}

/** The DATABASE_URL of the login role for a database of the test cluster. */
export function databaseUrl(name, user = 'scrollkeep_app') {
  return `postgresql:///${name}?host=${env.pghost}&user=${user}`;
}

/**
 * A fresh database: a clone of the migrated template, or an empty one owned by
 * scrollkeep_owner ({ empty: true }). Dropped by drop().
 */
export async function createDatabase({ empty = false } = {}) {
  const name = 't_' + randomBytes(6).toString('hex');
  const admin = await superuser();
  try {
    await admin.query(empty ? `CREATE DATABASE ${name} OWNER scrollkeep_owner TEMPLATE template0`
                            : `CREATE DATABASE ${name} OWNER scrollkeep_owner TEMPLATE ${env.template}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: databaseUrl(name),
    async query(sql, params) {
      const c = await superuser(name);
      try { return await c.query(sql, params); } finally { await c.end(); }
    },
    async drop() {
      const c = await superuser();
      try { await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } finally { await c.end(); }
    },
  };
}

/** A temporary directory that the postgres user can traverse (for clusters run as root). */
export function tempDir(prefix = 'sk-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** A copy of the migrations directory to change in a test. */
export function copyMigrations() {
  const dir = tempDir('sk-migrations-');
  for (const f of fs.readdirSync(migrationsDir)) fs.copyFileSync(path.join(migrationsDir, f), path.join(dir, f));
  return dir;
}

/** The environment every scrollkeep process gets: only what it needs, nothing inherited. */
export function baseEnv(db, extra = {}) {
  const e = {
    PATH: process.env.PATH,
    DATABASE_URL: db?.url,
    SUPABASE_JWT_SECRET: JWT_SECRET,
    NEXT_PUBLIC_SITE_URL: 'http://127.0.0.1:3000',
    SCROLLKEEP_MIGRATIONS_DIR: migrationsDir,
    SCROLLKEEP_LAB_CATALOG: path.join(env.root, 'lab', 'catalog.json'),
    SCROLLKEEP_HTTP_THREADS: '4',
    ...extra,
  };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) if (process.env[k]) e[k] = process.env[k];
  for (const [k, v] of Object.entries(e)) if (v === undefined) delete e[k];
  return e;
}

/** Run the CLI; resolves with { code, stdout, stderr } and never rejects on a non-zero exit. */
export function runCli(args, { env: e, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(env.bin, args, { env: e, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Parse the JSON log lines of a process's stderr (other lines are returned as { raw }). */
export function parseLogs(text) {
  return text.split('\n').filter(Boolean).map((line) => {
    try { return JSON.parse(line); } catch { return { raw: line }; }
  });
}

/**
 * Start `scrollkeep serve` on a free loopback port. Resolves once it prints its URL.
 * stop(signal) sends the signal and resolves with the exit code.
 */
export function startServer(e) {
  return new Promise((resolve, reject) => {
    const child = spawn(env.bin, ['serve'], {
      env: { ...e, SCROLLKEEP_LISTEN: '127.0.0.1:0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = {
      child,
      url: null,
      stderr: '',
      logs() { return parseLogs(this.stderr); },
      stop(signal = 'SIGTERM') {
        if (child.exitCode !== null) return Promise.resolve(child.exitCode);
        return new Promise((res) => { child.once('exit', (code) => res(code)); child.kill(signal); });
      },
    };
    let stdout = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('server did not start: ' + server.stderr)); }, 15000);
    child.stderr.on('data', (d) => { server.stderr += d; });
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = stdout.match(/scrollkeep serving (http:\/\/\S+)/);
      if (m && !server.url) {
        server.url = m[1];
        clearTimeout(timer);
        resolve(server);
      }
    });
    let stopping = false;
    const stop = server.stop;
    server.stop = (signal) => { stopping = true; return stop(signal); };
    child.on('exit', (code, signal) => {
      if (!server.url) { clearTimeout(timer); reject(new Error(`server exited ${code}: ${server.stderr}`)); }
      // A server that dies under a test would only show as "fetch failed": say why.
      else if (!stopping) process.stderr.write(`server died (${code ?? signal}):\n${server.stderr.slice(-6000)}\n`);
    });
  });
}

/** fetch() a path of a server and read the body as JSON when it is JSON. */
export async function request(server, pathname, init = {}) {
  const res = await fetch(server.url + pathname, init);
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * A whole private cluster, for tests that change cluster-wide state (roles) or the server
 * itself. Bootstrapped like the main one, with database "sk". stop() removes it.
 */
export async function privateCluster() {
  const dir = tempDir('sk-cluster-');
  const pgdir = path.join(dir, 'pg');
  const script = `. scripts/lib/cluster.sh && cluster_init "$1" test && cluster_start "$1" && cluster_bootstrap "$1" sk "$2"`;
  const run = await new Promise((resolve) => {
    const child = spawn('bash', ['-c', script, 'bash', pgdir, env.bin], { cwd: env.root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => resolve({ code, out }));
  });
  if (run.code !== 0) throw new Error('private cluster failed: ' + run.out);
  return {
    pgdir,
    url: `postgresql:///sk?host=${pgdir}&user=scrollkeep_app`,
    async query(sql) {
      const c = new pg.Client({ host: pgdir, user: 'postgres', database: 'sk' });
      await c.connect();
      try { return await c.query(sql); } finally { await c.end(); }
    },
    /** Stop the server (mode: fast or immediate) and start it again. */
    restart(mode = 'fast') {
      return new Promise((resolve, reject) => {
        const script = `. scripts/lib/cluster.sh && cluster_stop "$1" "$2" && cluster_start "$1"`;
        const child = spawn('bash', ['-c', script, 'bash', pgdir, mode], { cwd: env.root, stdio: 'ignore' });
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`restart ${mode}: ${code}`))));
      });
    },
    async stop() {
      await new Promise((resolve) => {
        const child = spawn('bash', ['-c', '. scripts/lib/cluster.sh && cluster_stop "$1" immediate', 'bash', pgdir],
          { cwd: env.root, stdio: 'ignore' });
        child.on('close', resolve);
      });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Start `scrollkeep worker` with args. stop(signal) resolves with the exit code; kill() sends
 * SIGKILL; pause()/resume() freeze and thaw it (SIGSTOP/SIGCONT).
 */
export function startWorker(e, args = []) {
  const child = spawn(env.bin, ['worker', ...args], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  const worker = {
    child,
    stderr: '',
    logs() { return parseLogs(this.stderr); },
    stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((res) => { child.once('exit', (code) => res(code)); child.kill(signal); });
    },
    kill() { return this.stop('SIGKILL'); },
    pause() { child.kill('SIGSTOP'); },
    resume() { child.kill('SIGCONT'); },
    exited: new Promise((res) => child.once('exit', (code, signal) => res({ code, signal }))),
  };
  child.stderr.on('data', (d) => { worker.stderr += d; });
  child.stdout.on('data', () => {});
  return worker;
}

/** Poll fn until it returns a truthy value (returned), or fail after ms. */
export async function waitFor(fn, { ms = 20000, every = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
