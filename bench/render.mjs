// bench/render.mjs — PDFs and share cards per second per core: scrollkeep's renderers
// (bench/render_bench.c, one thread) beside headless Chromium making the same documents the
// way a Next.js site would — a warm browser driven by puppeteer-core printing the reading's
// print view with page.pdf(), and screenshotting a 1200x630 card page with page.screenshot() —
// and beside a cold `chromium --headless --print-to-pdf` per document.
//
// "Per core" is documents per CPU-second: for scrollkeep the process's CPU time, for Chromium
// the CPU time of every process of the browser (read from /proc), not counting Node's.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const SECONDS = 5;
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
               '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

function ours(ctx, kind) {
  const bin = path.join(ctx.root, 'build', 'release', 'bench', 'render_bench');
  const r = JSON.parse(execFileSync(bin, [kind, String(SECONDS)]).toString());
  return { n: r.n, wall_s: r.wall_s, cpu_s: r.cpu_s, bytes: r.bytes,
           per_s: r.n / r.wall_s, per_cpu_s: r.n / r.cpu_s };
}

// The card, as a site would draw it in HTML for a screenshot: the same fields and layout.
const cardHtml = `<!doctype html><html><head><meta charset="utf-8"><style>
html,body{margin:0;width:1200px;height:630px;overflow:hidden}
body{background:linear-gradient(135deg,#1c1833,#3a2f5c);color:#f4ecd8;font-family:'DejaVu Serif',serif}
.eyebrow{position:absolute;top:70px;width:100%;text-align:center;font:bold 18px 'DejaVu Sans';letter-spacing:.3em;color:#c9a45c}
h1{position:absolute;top:110px;width:100%;text-align:center;font-size:64px;margin:0}
p{position:absolute;top:215px;left:120px;right:120px;text-align:center;font-style:italic;font-size:30px;margin:0}
.cards{position:absolute;top:380px;left:150px;right:150px;display:flex;gap:30px}
.card{flex:1;height:110px;border:1.5px solid #c9a45c;border-radius:14px;display:flex;align-items:center;justify-content:center;font-size:21px;background:rgba(255,255,255,.06)}
footer{position:absolute;top:538px;width:100%;text-align:center;font:15px 'DejaVu Sans';color:#c9a45c}
</style></head><body><div class="eyebrow">A READING</div><h1>The Star</h1>
<p>Hope returns to what is tended.</p>
<div class="cards"><div class="card">The Star</div><div class="card">Three of Cups ⟲</div><div class="card">The Moon</div></div>
<footer>sealed  25 November 2026</footer></body></html>`;

/** CPU seconds used so far by a process and all its descendants (from /proc). */
function treeCpu(rootPid) {
  const tick = Number(execFileSync('getconf', ['CLK_TCK']).toString());
  const procs = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(d), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / tick });
    } catch { /* gone */ }
  }
  let total = 0;
  const want = new Set([rootPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, p] of procs) if (!want.has(pid) && want.has(p.ppid)) { want.add(pid); grew = true; }
  }
  for (const pid of want) total += procs.get(pid)?.cpu ?? 0;
  return total;
}

async function warmChromium(html, work) {
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true,
                                           userDataDir: fs.mkdtempSync(path.join(work, 'profile-')) });
  const pid = browser.process().pid;
  const page = await browser.newPage();
  const measure = async (fn) => {
    await fn(); // warm
    const cpu0 = treeCpu(pid);
    const t0 = process.hrtime.bigint();
    let n = 0;
    let wall = 0;
    let bytes = 0;
    do {
      bytes = (await fn()).length;
      n++;
      wall = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (wall < SECONDS);
    const cpu = treeCpu(pid) - cpu0;
    return { n, wall_s: wall, cpu_s: cpu, bytes, per_s: n / wall, per_cpu_s: n / cpu };
  };
  const pdf = await measure(async () => {
    await page.setContent(html, { waitUntil: 'load' });
    return page.pdf({ format: 'A4', printBackground: true });
  });
  await page.setViewport({ width: 1200, height: 630 });
  const card = await measure(async () => {
    await page.setContent(cardHtml, { waitUntil: 'load' });
    return page.screenshot({ type: 'png' });
  });
  const sample = await page.pdf({ format: 'A4', printBackground: true });
  await browser.close();
  return { pdf, card, sample };
}

function coldChromium(file, work, runs = 3) {
  const out = path.join(work, 'cold.pdf');
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(CHROMIUM, [...FLAGS, `--user-data-dir=${fs.mkdtempSync(path.join(work, 'cold-'))}`,
                                   '--no-pdf-header-footer', `--print-to-pdf=${out}`, `file://${file}`],
                        { stdio: 'ignore', timeout: 60000 });
    if (r.status !== 0 || !fs.existsSync(out)) throw new Error('chromium --print-to-pdf failed');
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return { n: runs, wall_s: wall, per_s: runs / wall };
}

export async function run(ctx) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sk-render-bench-'));
  try {
    const html = execFileSync(path.join(ctx.root, 'build', 'release', 'bench', 'render_bench'), ['html']).toString();
    const file = path.join(work, 'print.html');
    fs.writeFileSync(file, html);
    const sk = { pdf: ours(ctx, 'pdf'), private_pdf: ours(ctx, 'private_pdf'), card: ours(ctx, 'card') };
    const version = execFileSync(CHROMIUM, ['--version']).toString().trim();
    const warm = await warmChromium(html, work);
    // The same document: Chromium's PDF holds the reading's text too.
    fs.writeFileSync(path.join(work, 'chromium.pdf'), warm.sample);
    const text = execFileSync('pdftotext', [path.join(work, 'chromium.pdf'), '-']).toString();
    if (!text.includes('The Star') || !text.includes('Hope returns')) throw new Error('Chromium printed something else');
    const cold = coldChromium(file, work);
    const ratio = (a, b) => a / b;
    const out = {
      seconds_per_measure: SECONDS,
      chromium: version,
      scrollkeep: sk,
      chromium_warm: { pdf: warm.pdf, card: warm.card },
      chromium_cold_print_to_pdf: cold,
      ratio_per_core: {
        private_pdf_vs_chromium_pdf: ratio(sk.private_pdf.per_cpu_s, warm.pdf.per_cpu_s),
        card_vs_chromium_screenshot: ratio(sk.card.per_cpu_s, warm.card.per_cpu_s),
      },
    };
    const row = (name, r) => console.log(`render ${name.padEnd(34)} ${r.per_cpu_s ? r.per_cpu_s.toFixed(1).padStart(8) : '       -'} per core-second  ${r.per_s.toFixed(1).padStart(8)} per second wall`);
    row('scrollkeep pdf (public)', sk.pdf);
    row('scrollkeep private_pdf', sk.private_pdf);
    row('scrollkeep share card (PNG)', sk.card);
    row('chromium page.pdf() warm', warm.pdf);
    row('chromium page.screenshot() warm', warm.card);
    row('chromium --print-to-pdf cold', cold);
    console.log(`render per core: private_pdf ${out.ratio_per_core.private_pdf_vs_chromium_pdf.toFixed(1)}x Chromium's PDF, ` +
                `share card ${out.ratio_per_core.card_vs_chromium_screenshot.toFixed(1)}x Chromium's screenshot (target 20x)`);
    return out;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
