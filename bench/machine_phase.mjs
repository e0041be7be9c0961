// bench/machine_phase.mjs — how much of the machine a benchmark had. This VM is shared: the
// hypervisor gives its two cores to other guests for part of the time (steal), and a core's
// speed follows its neighbours, so one commit's runs differ by a factor of three. Each
// benchmark's figures carry these measures, so a slow run can be told from a slow build.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

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
