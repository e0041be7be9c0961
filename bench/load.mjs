// bench/load.mjs — sustained mixed load at a stated rate, beside slow and idle clients.
//
// An open-loop generator (requests start on a fixed schedule, whether or not the earlier ones
// have answered, so a slow server cannot slow the load down) sends SK_LOAD_RATE requests a
// second (default 300) for SK_LOAD_SECONDS (default 300) as 50 signed-in people: 40 % read
// their consents, 30 % read a reading, 20 % record a consent, 10 % create a sealed reading —
// each a real transaction under RLS. Beside them, 200 idle connections that never send a byte
// and 50 slowloris clients that send one header byte every 5 s hold connections open the whole
// time. Reported: throughput, p50/p99/p99.9 latency, the error rate, and the server's and the
// worker's resident memory at the start and the end. Not a timed test: a benchmark.
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const RATE = Number(process.env.SK_LOAD_RATE ?? 300);
const SECONDS = Number(process.env.SK_LOAD_SECONDS ?? 300);
const PEOPLE = 50;
const IDLE = 200;
const SLOW = 50;
const JWT_SECRET = 'bench-secret-that-is-long-enough-0123456789';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
export function token(sub) {
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 86400 })}`;
  return `${head}.${createHmac('sha256', JWT_SECRET).update(head).digest('base64url')}`;
}

export function start(ctx, args) {
  const child = spawn(ctx.bin, args, {
    env: { PATH: process.env.PATH, DATABASE_URL: ctx.url, SUPABASE_JWT_SECRET: JWT_SECRET, SCROLLKEEP_LISTEN: '127.0.0.1:0',
           SCROLLKEEP_MAILDIR: '/dev/null/never', SCROLLKEEP_MIGRATIONS_DIR: `${ctx.root}/supabase/migrations`,
           SCROLLKEEP_LAB_CATALOG: `${ctx.root}/lab/catalog.json` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', () => {});
  const url = new Promise((res) => {
    const t = setInterval(() => { const m = out.match(/serving (http:\/\/\S+)/); if (m) { clearInterval(t); res(m[1]); } }, 20);
  });
  return { child, url };
}

export const rssKiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);

export const reading = {
  question: 'Will the load hold through the night?', answer: 'The Tower stands: what is built well does not fall.',
  spread: [{ card: 'The Tower', position: 'present', reversed: false }], public_title: 'The Tower', public_line: 'What is built well stands.',
};
export const consent = (action) => ({ purpose: 'marketing', action, notice_version: '2026-11', notice_sha256: 'a'.repeat(64),
                               language: 'en', jurisdiction: 'DE', method: 'web_form' });

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
export function request(base, method, path, tok, body) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const data = body ? JSON.stringify(body) : null;
    const req = http.request(`${base}${path}`, { method, agent, headers: { Authorization: `Bearer ${tok}`,
      ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    });
    req.on('error', () => resolve({ status: 0, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    req.setTimeout(30000, () => req.destroy());
    if (data) req.write(data);
    req.end();
  });
}

/** Connections that hold a slot: idle ones send nothing; slow ones a header byte every 5 s. */
function holdConnections(base) {
  const { port } = new URL(base);
  const socks = [];
  for (let i = 0; i < IDLE + SLOW; i++) {
    const s = net.connect(Number(port), '127.0.0.1');
    s.on('error', () => {});
    if (i >= IDLE) {
      const line = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ';
      let k = 0;
      s.timer = setInterval(() => { if (!s.destroyed) s.write(k < line.length ? line[k++] : 'a'); }, 5000);
    }
    socks.push(s);
  }
  return () => { for (const s of socks) { clearInterval(s.timer); s.destroy(); } };
}

export const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

export async function run(ctx) {
  const c = await ctx.client();
  const ids = Array.from({ length: PEOPLE }, () => randomUUID());
  await c.query(`INSERT INTO auth.users (id, email) SELECT u, u || '@load.test' FROM unnest($1::uuid[]) u`, [ids]);
  const server = start(ctx, ['serve']);
  const worker = start(ctx, ['worker']);
  const base = await server.url;
  await sleep(300);
  const people = [];
  for (const id of ids) {
    const tok = token(id);
    await request(base, 'POST', '/v1/consents', tok, consent('granted'));
    const r = await request(base, 'POST', '/v1/readings', tok, reading);
    const { rows: [row] } = await c.query('SELECT id FROM readings WHERE user_id = $1 LIMIT 1', [id]);
    people.push({ tok, reading: row?.id, ok: r.status === 201 });
  }
  const release = holdConnections(base);
  await sleep(1000);
  const rss0 = { server: rssKiB(server.child.pid), worker: rssKiB(worker.child.pid) };
  const latencies = [];
  const statuses = new Map();
  const pending = [];
  const t0 = Date.now();
  const total = RATE * SECONDS;
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 1) await sleep(wait);
    const p = people[i % PEOPLE];
    const roll = i % 10;
    const job = roll < 4 ? request(base, 'GET', '/v1/consents', p.tok)
      : roll < 7 ? request(base, 'GET', `/v1/readings/${p.reading}`, p.tok)
        : roll < 9 ? request(base, 'POST', '/v1/consents', p.tok, consent(i % 2 ? 'granted' : 'withdrawn'))
          : request(base, 'POST', '/v1/readings', p.tok, reading);
    pending.push(job.then((r) => { latencies.push(r.ms); statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1); }));
    if (pending.length > 5000) await Promise.all(pending.splice(0, 2500));
  }
  await Promise.all(pending);
  const elapsed = (Date.now() - t0) / 1000;
  const rss1 = { server: rssKiB(server.child.pid), worker: rssKiB(worker.child.pid) };
  // Slow and idle clients did not starve the others: one more request, answered at once.
  const probe = await request(base, 'GET', '/healthz', people[0].tok);
  release();
  server.child.kill('SIGTERM');
  worker.child.kill('SIGTERM');
  await c.end();
  latencies.sort((a, b) => a - b);
  const errors = [...statuses.entries()].filter(([s]) => s < 200 || s > 299).reduce((n, [, k]) => n + k, 0);
  const out = {
    rate: RATE, seconds: SECONDS, requests: latencies.length, throughput: latencies.length / elapsed,
    p50_ms: pct(latencies, 0.5), p99_ms: pct(latencies, 0.99), p999_ms: pct(latencies, 0.999), max_ms: latencies.at(-1),
    error_rate: errors / latencies.length, statuses: Object.fromEntries(statuses), idle_connections: IDLE, slow_clients: SLOW,
    rss_kib: { start: rss0, end: rss1 }, probe_after: probe,
  };
  console.log(`load: ${out.requests} requests in ${elapsed.toFixed(0)} s at ${RATE}/s asked (${out.throughput.toFixed(0)}/s done), `
              + `p50 ${out.p50_ms.toFixed(2)} ms, p99 ${out.p99_ms.toFixed(2)} ms, p99.9 ${out.p999_ms.toFixed(2)} ms, `
              + `errors ${(out.error_rate * 100).toFixed(3)} %, beside ${IDLE} idle and ${SLOW} slow connections`);
  console.log(`load: memory server ${rss0.server} -> ${rss1.server} KiB, worker ${rss0.worker} -> ${rss1.worker} KiB; `
              + `a request after it all: ${probe.status} in ${probe.ms.toFixed(1)} ms`);
  return out;
}
