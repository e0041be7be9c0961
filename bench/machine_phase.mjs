// bench/machine_phase.mjs — how much of the machine a benchmark had. This VM is shared: the
// hypervisor gives its two cores to other guests for part of the time (steal), and a core's
// speed follows its neighbours, so one commit's runs differ by a factor of three. Each
// benchmark's figures carry these measures, so a slow run can be told from a slow build.
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/** The whole machine's jiffies from /proc/stat: busy (steal included, as `top` counts it),
 * steal (time the virtual cores were given to another guest) and total. */
export function cpuTicks() {
  const stat = readFileSync('/proc/stat', 'utf8');
  const f = stat.split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // guest time is counted in user already
  return { busy: total - f[3] - f[4], steal: f[7], total, switches: Number(stat.match(/^ctxt (\d+)/m)[1]) };
}

/** What the machine did between two cpuTicks(): busy and stolen seconds, their shares, and
 * its context switches (each a wake-up the hypervisor may make wait). */
export function cpuSpent(a, b) {
  const total = b.total - a.total;
  return { busySeconds: (b.busy - a.busy) / 100, stealSeconds: (b.steal - a.steal) / 100, // USER_HZ
           busyShare: (b.busy - a.busy) / total, stealShare: (b.steal - a.steal) / total,
           switches: b.switches - a.switches };
}

/** Milliseconds one core takes for a fixed piece of work (100,000 HMAC-SHA256s of a
 * webhook-sized body), timed just before a benchmark: the lower, the faster the machine's
 * phase. */
export function referenceLoopMs() {
  const body = 'x'.repeat(1200);
  const t = process.hrtime.bigint();
  for (let i = 0; i < 100000; i++) createHmac('sha256', 'whsec_reference').update(body).digest();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** CPU jiffies (user + system) each of pids has used so far (0 for one that is gone). */
function processTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** The CPU jiffies of the processes a benchmark measures, by role: the given children
 * (named) and every PostgreSQL process. */
export function roleTicks(children) {
  const out = { postgres: 0 };
  for (const [name, pid] of Object.entries(children)) out[name] = processTicks(pid);
  for (const p of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(p)) continue;
    let comm;
    try { comm = readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { continue; }
    if (comm === 'postgres') out.postgres += processTicks(p);
  }
  return out;
}

/** Milliseconds of CPU each role used between two roleTicks(), per unit of work, and the
 * rest of the machine's busy time (the load generator, the benchmark itself, the kernel's
 * threads) as "other", given the machine's busy seconds meanwhile (cpuSpent). */
export function rolesPer(a, b, units, busySeconds) {
  const out = Object.fromEntries(Object.keys(b).map((k) => [k, ((b[k] - (a[k] ?? 0)) * 10) / units]));
  out.other = (busySeconds * 1000) / units - Object.values(out).reduce((x, y) => x + y, 0);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Number(v.toFixed(3))]));
}
