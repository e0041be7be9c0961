// bench/api.mjs — the consent and reading routes as signed-in people, each request a real
// transaction under RLS (writes with synchronous_commit on): requests per second and p50/p99 at
// a fixed rate (an open-loop schedule, bench/load.mjs's client) and at saturation (`wrk`, 2
// threads, 32 connections, each request a person's token and route in turn), with the server's
// resident memory before and after. The mix: 40 % GET /v1/consents, 40 % GET /v1/readings/{id}
// (its seal re-verified), 20 % POST /v1/consents.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consent, pct, reading, request, rssKiB, start, token } from './load.mjs';

const PEOPLE = 50;
const RATE = 500;
const FIXED_SECONDS = 20;
const SATURATION_SECONDS = 15;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function people(c, base) {
  const ids = Array.from({ length: PEOPLE }, () => randomUUID());
  await c.query(`INSERT INTO auth.users (id, email) SELECT u, u || '@api.test' FROM unnest($1::uuid[]) u`, [ids]);
  const out = [];
  for (const id of ids) {
    const tok = token(id);
    await request(base, 'POST', '/v1/consents', tok, consent('granted'));
    await request(base, 'POST', '/v1/readings', tok, reading);
    const { rows: [row] } = await c.query('SELECT id FROM readings WHERE user_id = $1 LIMIT 1', [id]);
    out.push({ tok, reading: row.id });
  }
  return out;
}

const route = (p, i) => (i % 5 < 2 ? ['GET', '/v1/consents', null]
  : i % 5 < 4 ? ['GET', `/v1/readings/${p.reading}`, null]
    : ['POST', '/v1/consents', consent(i % 2 ? 'granted' : 'withdrawn')]);

async function fixedRate(base, ps) {
  const lat = [];
  let errors = 0;
  const pending = [];
  const t0 = Date.now();
  for (let i = 0; i < RATE * FIXED_SECONDS; i++) {
    const wait = t0 + (i * 1000) / RATE - Date.now();
    if (wait > 1) await sleep(wait);
    const p = ps[i % PEOPLE];
    const [method, path, body] = route(p, i);
    pending.push(request(base, method, path, p.tok, body).then((r) => { lat.push(r.ms); if (r.status < 200 || r.status > 299) errors++; }));
  }
  await Promise.all(pending);
  const elapsed = (Date.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { rate: RATE, seconds: FIXED_SECONDS, requests: lat.length, per_s: lat.length / elapsed,
           p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99), errors };
}

function wrkScript(ps) {
  const reqs = [];
  for (let i = 0; i < PEOPLE * 5; i++) {
    const p = ps[i % PEOPLE];
    const [method, path, body] = route(p, i);
    reqs.push({ method, path, tok: p.tok, body: body ? JSON.stringify(body) : '' });
  }
  const lua = reqs.map((r) => `{${JSON.stringify(r.method)}, ${JSON.stringify(r.path)}, ${JSON.stringify(r.tok)}, ${JSON.stringify(r.body)}}`);
  return `local reqs = {\n${lua.join(',\n')}\n}
local i = 0
request = function()
  i = i % #reqs + 1
  local r = reqs[i]
  local h = { ["Authorization"] = "Bearer " .. r[3] }
  if r[4] ~= "" then h["Content-Type"] = "application/json" end
  return wrk.format(r[1], r[2], h, r[4] ~= "" and r[4] or nil)
end
`;
}

function saturation(base, ps) {
  const dir = mkdtempSync(join(tmpdir(), 'sk-api-'));
  const file = join(dir, 'api.lua');
  writeFileSync(file, wrkScript(ps));
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t2', '-c32', `-d${SATURATION_SECONDS}s`, '--latency', '-s', file, base], { maxBuffer: 1 << 24 }, (err, out, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      if (err) return reject(new Error(`wrk: ${err.message} ${stderr}`));
      const ms = (label) => {
        const m = out.match(new RegExp(`\\s${label}%\\s+([\\d.]+)(us|ms|s)`));
        return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : null;
      };
      const rps = out.match(/Requests\/sec:\s+([\d.]+)/);
      const non2xx = out.match(/Non-2xx or 3xx responses: (\d+)/);
      resolve({ connections: 32, seconds: SATURATION_SECONDS, per_s: Number(rps?.[1]), p50_ms: ms('50'), p99_ms: ms('99'),
                non_2xx: non2xx ? Number(non2xx[1]) : 0 });
    });
  });
}

export async function run(ctx) {
  const c = await ctx.client();
  const server = start(ctx, ['serve']);
  const base = await server.url;
  await sleep(300);
  const ps = await people(c, base);
  const rss0 = rssKiB(server.child.pid);
  const fixed = await fixedRate(base, ps);
  console.log(`api fixed rate ${RATE}/s for ${FIXED_SECONDS} s: ${fixed.per_s.toFixed(0)} requests/s, p50 ${fixed.p50_ms.toFixed(2)} ms, ` +
              `p99 ${fixed.p99_ms.toFixed(2)} ms, ${fixed.errors} errors`);
  const sat = await saturation(base, ps);
  const rss1 = rssKiB(server.child.pid);
  console.log(`api saturation (wrk, 32 connections, ${SATURATION_SECONDS} s): ${sat.per_s.toFixed(0)} requests/s, p50 ${sat.p50_ms} ms, ` +
              `p99 ${sat.p99_ms} ms, ${sat.non_2xx} non-2xx; server memory ${rss0} -> ${rss1} KiB`);
  server.child.kill('SIGTERM');
  await c.end();
  return { mix: '40 % GET /v1/consents, 40 % GET /v1/readings/{id}, 20 % POST /v1/consents', people: PEOPLE,
           fixed_rate: fixed, saturation: sat, server_rss_kib: { start: rss0, end: rss1 } };
}
