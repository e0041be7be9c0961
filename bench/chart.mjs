// bench/chart.mjs — draws bench/results.json's side-by-side figures as bench/chart.svg, which
// BENCHMARKS.md embeds: one panel per comparison, a bar per tool, the value written beside it,
// PostgreSQL's own ceiling (pgbench) as a dashed line where there is one. Plain SVG text: a
// few rectangles need no charting library.
import fs from 'node:fs';
import path from 'node:path';

const W = 1000, BAR = 22, GAP = 6, LEFT = 260, RIGHT = 130;
const COLORS = { scrollkeep: '#6b4fbb', 'graphile-worker': '#d08a2e', 'pg-boss': '#3b8f6e', Chromium: '#888' };
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
const fmt = (v) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v >= 10 ? 1 : 2));

/* A panel: title, unit, bars [{label, value}], an optional ceiling {label, value}. */
function panel(p, y) {
  const max = Math.max(...p.bars.map((b) => b.value), p.ceiling?.value ?? 0) * 1.05;
  const scale = (v) => ((W - LEFT - RIGHT) * v) / max;
  const out = [`<text x="10" y="${y + 16}" font-size="15" font-weight="bold">${esc(p.title)}</text>`];
  let yy = y + 28;
  for (const b of p.bars) {
    const color = COLORS[b.tool] ?? '#555';
    out.push(`<text x="${LEFT - 8}" y="${yy + 16}" font-size="13" text-anchor="end">${esc(b.label)}</text>`,
             `<rect x="${LEFT}" y="${yy}" width="${scale(b.value).toFixed(1)}" height="${BAR}" fill="${color}"/>`,
             `<text x="${LEFT + scale(b.value) + 6}" y="${yy + 16}" font-size="13">${fmt(b.value)} ${esc(p.unit)}</text>`);
    yy += BAR + GAP;
  }
  if (p.ceiling) {
    const x = LEFT + scale(p.ceiling.value);
    out.push(`<line x1="${x}" y1="${y + 24}" x2="${x}" y2="${yy}" stroke="#c33" stroke-dasharray="5,4"/>`,
             `<text x="${Math.min(x, W - 10)}" y="${yy + 12}" font-size="11" fill="#c33" text-anchor="end">${esc(p.ceiling.label)}: ${fmt(p.ceiling.value)}</text>`);
    yy += 14;
  }
  return { svg: out.join('\n'), height: yy - y + 18 };
}

function panels(r) {
  const out = [];
  const q = r.queue?.drained?.batched ? r.queue : null; // the side-by-side format only
  const tools = q ? Object.keys(q.drained.batched) : [];
  const bars = (get) => tools.filter((t) => get(t) != null).map((t) => ({ tool: t, label: t, value: get(t) }));
  if (q) {
    out.push({ title: `Queue: ${q.jobs.toLocaleString('en-US')} no-op jobs drained, batched (median of ${q.rounds}; higher is better)`, unit: 'jobs/s',
               bars: bars((t) => q.drained.batched[t].median_jobs_per_s),
               ceiling: r.ceiling && { label: 'pgbench: the claim + finish statements, 512 a round trip', value: r.ceiling.claim_finish_batched.jobs_per_s } });
    out.push({ title: 'Queue: one job per round trip (median; higher is better)', unit: 'jobs/s',
               bars: bars((t) => q.drained.single[t].median_jobs_per_s),
               ceiling: r.ceiling && { label: 'pgbench: claim + finish, 1 a round trip, 8 clients', value: r.ceiling.claim_finish_single.jobs_per_s } });
    out.push({ title: 'Enqueue, one at a time from 8 clients (higher is better)', unit: 'jobs/s',
               bars: bars((t) => q.enqueue[t]?.single_8_clients_per_s),
               ceiling: r.ceiling && { label: 'pgbench: single-row INSERT, 8 clients', value: r.ceiling.insert_commits_8_clients_per_s } });
    out.push({ title: 'Enqueue, batched (higher is better)', unit: 'jobs/s', bars: bars((t) => q.enqueue[t]?.batched_per_s) });
    out.push({ title: 'Enqueue-to-start latency on an idle queue, p99 (lower is better)', unit: 'ms', bars: bars((t) => q.latency[t]?.p99_ms) });
  }
  if (r.webhook) {
    const w = r.webhook;
    const ceiling = r.ceiling && { label: 'pgbench: single-row INSERT, 8 clients', value: r.ceiling.insert_commits_8_clients_per_s };
    out.push({ title: `Stripe webhook: distinct signed events (${w.cpu_ms_per_event} ms CPU each; higher is better)`, unit: 'events/s', ceiling,
               bars: [{ tool: 'scrollkeep', label: 'accepted (verified, stored, 200)', value: w.webhook_accept_per_s },
                      { tool: 'scrollkeep', label: 'end to end (paid and granted)', value: w.end_to_end_per_s }] });
    out.push({ title: 'Stripe webhook: duplicate deliveries (higher is better)', unit: 'deliveries/s', ceiling,
               bars: [{ tool: 'scrollkeep', label: 'verified, counted, 200', value: w.duplicates_per_s }] });
  }
  if (r.api) {
    const a = r.api;
    out.push({ title: 'API as a signed-in person under RLS: requests per second (higher is better)', unit: 'req/s',
               bars: [{ tool: 'scrollkeep', label: `fixed rate (${a.fixed_rate.rate}/s asked)`, value: a.fixed_rate.per_s },
                      { tool: 'scrollkeep', label: 'saturation (wrk, 32 connections)', value: a.saturation.per_s }] });
    out.push({ title: 'API latency, p99 (lower is better)', unit: 'ms',
               bars: [{ tool: 'scrollkeep', label: `at ${a.fixed_rate.rate}/s`, value: a.fixed_rate.p99_ms },
                      { tool: 'scrollkeep', label: 'at saturation', value: a.saturation.p99_ms }] });
  }
  if (r.render) {
    // Documents per CPU-second, each kind beside Chromium making the same one.
    const tools = { scrollkeep: 'scrollkeep', chromium_warm: 'Chromium (warm, puppeteer)', chromium_cold_print_to_pdf: 'Chromium (cold, --print-to-pdf)' };
    for (const kind of ['pdf', 'card']) {
      const rb = Object.entries(tools).filter(([k]) => r.render[k]?.[kind]?.per_cpu_s)
        .map(([k, label]) => ({ tool: k === 'scrollkeep' ? 'scrollkeep' : 'Chromium', label, value: r.render[k][kind].per_cpu_s }));
      if (rb.length) out.push({ title: `Artifacts: ${kind === 'pdf' ? 'reading PDFs' : 'share cards'} per CPU-second (higher is better)`, unit: '/CPU-s', bars: rb });
    }
  }
  return out.filter((p) => p.bars.length);
}

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const results = JSON.parse(fs.readFileSync(path.join(root, 'bench', 'results.json'), 'utf8'));
let y = 40;
const parts = [];
for (const p of panels(results)) {
  // The same figures as a table on stdout: make bench's side-by-side summary.
  console.log(`\n${p.title}`);
  for (const b of p.bars) console.log(`  ${b.label.padEnd(34)} ${fmt(b.value).padStart(10)} ${p.unit}`);
  if (p.ceiling) console.log(`  ${p.ceiling.label.padEnd(34)} ${fmt(p.ceiling.value).padStart(10)} ${p.unit}  (PostgreSQL's ceiling)`);
  const d = panel(p, y);
  parts.push(d.svg);
  y += d.height;
}
const m = results.machine ?? {};
const pgVersion = (m.postgres ?? '').split(' (')[0];
const head = `<text x="10" y="22" font-size="13" fill="#444">${esc(`${m.cores} cores (${m.cpu}), ${pgVersion}, synchronous_commit=${m.synchronous_commit}, ${(m.date ?? '').slice(0, 10)}, commit ${m.scrollkeep_commit}`)}</text>`;
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="DejaVu Sans, sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
${head}
${parts.join('\n')}
</svg>
`;
fs.writeFileSync(path.join(root, 'bench', 'chart.svg'), svg);
console.log('bench: wrote bench/chart.svg');
