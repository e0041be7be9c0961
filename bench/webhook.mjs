// bench/webhook.mjs — the Stripe webhook through the whole path. On a database that already
// holds HISTORY earlier purchases (an empty table plans and caches unlike a real one), DISTINCT
// signed checkout.session.completed events (one per prepared checkout session) are POSTed by
// wrk over CLIENTS connections to `scrollkeep serve` while `scrollkeep worker --kinds
// stripe_event_job` processes them: events per second from the first event stored to the last
// entitlement granted, both read from the rows' own timestamps (verify, store, commit, 200,
// then process, pay, grant, ledger row, receipt job), and the machine's CPU per event. Then one
// event delivered again and again for a fixed time by wrk: duplicate deliveries per second
// (verify, count up, 200).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac, randomUUID } from 'node:crypto';

import { cpuSpent, cpuTicks, roleTicks, rolesPer } from './machine_phase.mjs';

const DISTINCT = Number(process.env.SK_BENCH_EVENTS ?? 20000);
const HISTORY = Number(process.env.SK_BENCH_HISTORY ?? 20000);
const REPEAT_SECONDS = Number(process.env.SK_BENCH_REPEAT_SECONDS ?? 10);
// Stripe sends many webhooks at once. The server parks each delivery while its batch is
// written (it holds no thread meanwhile), so its default thread count takes them all: 128
// threads measured no better (more context switches per event).
const CLIENTS = 256;
const HTTP_THREADS = 32;
const WRK_THREADS = 2;
const WORKER_CONCURRENCY = String(process.env.SK_BENCH_WORKER_CONCURRENCY ?? 4);
const SECRET = 'whsec_bench_0123456789abcdef';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sign(payload) {
  const t = Math.floor(Date.now() / 1000);
  return `t=${t},v1=${createHmac('sha256', SECRET).update(`${t}.${payload}`).digest('hex')}`;
}

function start(ctx, args) {
  const child = spawn(ctx.bin, args, {
    env: { PATH: process.env.PATH, DATABASE_URL: ctx.url, SUPABASE_JWT_SECRET: 'bench-secret-that-is-long-enough-0123456789',
           STRIPE_WEBHOOK_SECRET: SECRET, SCROLLKEEP_LISTEN: '127.0.0.1:0', SCROLLKEEP_MAILDIR: '/dev/null/never',
           SCROLLKEEP_MIGRATIONS_DIR: `${ctx.root}/supabase/migrations`, SCROLLKEEP_HTTP_THREADS: String(HTTP_THREADS) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  let err = '';
  child.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
  child.on('exit', (code) => { if (code) console.error(`${args[0]} exited ${code}: ${err}`); });
  let timer;
  const exited = new Promise((res) => child.on('exit', (code) => { clearInterval(timer); res(code); }));
  const url = new Promise((res) => {
    timer = setInterval(() => {
      const m = out.match(/serving (http:\/\/\S+)/);
      if (m) { clearInterval(timer); res(m[1]); }
    }, 20);
  });
  return { child, exited, url };
}

function wrk(args) {
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { maxBuffer: 1 << 24 },
             (err, stdout, stderr) => (err ? reject(new Error(`wrk: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
}

/** Deliver every event once with wrk; resolves when each is stored (wrk runs until it is
 * stopped; the poll of max(id) is an index's last entry). */
async function deliverDistinct(c, url, events) {
  const dir = mkdtempSync(join(tmpdir(), 'sk-webhook-'));
  const file = join(dir, 'distinct.tsv');
  writeFileSync(file, events.map(([body, header]) => `${header}\t${body}\n`).join(''));
  let child;
  const done = new Promise((resolve, reject) => {
    child = execFile('wrk', ['-t', String(WRK_THREADS), '-c', String(CLIENTS), '-d', '120s', '--timeout', '30s',
                             '-s', new URL('./webhook_distinct.lua', import.meta.url).pathname, url, '--', file, String(WRK_THREADS)],
                     (err, stdout, stderr) => (err ? reject(new Error(`wrk: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
  try {
    for (let i = 0; i < 1200; i++) {
      await sleep(100);
      const { rows: [r] } = await c.query('SELECT coalesce(max(id), 0)::int AS n FROM stripe_events');
      if (r.n >= events.length) break;
    }
    child.kill('SIGINT'); // wrk reports and exits
    const out = await done;
    if (/answered|Socket errors/.test(out)) throw new Error(`wrk: ${out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Deliver body again and again for REPEAT_SECONDS with wrk (a freshly signed header each
 * time); wrk, in C, leaves the two cores to the server more than Node would. */
async function repeat(url, body) {
  const dir = mkdtempSync(join(tmpdir(), 'sk-webhook-'));
  const file = join(dir, 'deliveries.tsv');
  writeFileSync(file, Array.from({ length: 4096 }, () => `${sign(body)}\t${body}\n`).join(''));
  let out;
  try {
    out = await wrk(['-t', String(WRK_THREADS), '-c', '64', '-d', `${REPEAT_SECONDS}s`, '--latency',
                     '-s', new URL('./webhook_repeat.lua', import.meta.url).pathname, url, '--', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const answered = Number(out.match(/(\d+) requests in/)?.[1]);
  const seconds = Number(out.match(/requests in ([\d.]+)s/)?.[1]);
  const refused = out.match(/Non-2xx or 3xx responses: (\d+)/);
  const errors = out.match(/Socket errors: (.*)/);
  if (!answered || !seconds || refused || errors) throw new Error(`wrk: ${out}`);
  return { answered, seconds, p99: out.match(/99%\s+(\S+)/)?.[1] };
}

async function prepare(c) {
  await c.query(`TRUNCATE scrollkeep.entitlement_changes, entitlements, payments, checkout_sessions, stripe_events,
                          delivery_attempts, delivery_jobs RESTART IDENTITY CASCADE`);
  await c.query(`INSERT INTO products (stripe_product_id, code, layer, name) VALUES ('prod_bench', 'bench', 'council', 'Bench')
                 ON CONFLICT DO NOTHING`);
  await c.query(`INSERT INTO prices (stripe_price_id, product_id, currency, unit_amount)
                 SELECT 'price_bench', id, 'eur', 900 FROM products WHERE stripe_product_id = 'prod_bench' ON CONFLICT DO NOTHING`);
  await c.query(`INSERT INTO purchase_links (slug, price_id, unlock_route, channels)
                 SELECT 'bench', id, '/bench', '{receipt}' FROM prices WHERE stripe_price_id = 'price_bench' ON CONFLICT DO NOTHING`);
  const users = Array.from({ length: DISTINCT }, () => randomUUID());
  await c.query(`INSERT INTO auth.users (id, email) SELECT u, u || '@bench.test' FROM unnest($1::uuid[]) u ON CONFLICT DO NOTHING`, [users]);
  await c.query(`INSERT INTO checkout_sessions (stripe_checkout_session_id, user_id, purchase_link_id, idempotency_key, amount_total, currency)
                 SELECT 'cs_bench_' || i, u, (SELECT id FROM purchase_links WHERE slug = 'bench'), 'checkout:bench-' || i, 900, 'eur'
                   FROM unnest($1::uuid[]) WITH ORDINALITY AS x(u, i)`, [users]);
  await seedHistory(c);
  await c.query('VACUUM ANALYZE');
  await c.query('CHECKPOINT');
  return users;
}

/** HISTORY earlier purchases, paid and granted, as a live shop has them. */
async function seedHistory(c) {
  await c.query(`INSERT INTO auth.users (id, email) SELECT gen_random_uuid(), 'old' || g || '@history.test'
                   FROM generate_series(1, $1::int) g`, [HISTORY]);
  await c.query(`INSERT INTO checkout_sessions (stripe_checkout_session_id, user_id, purchase_link_id, idempotency_key,
                                                amount_total, currency, status, outcome, payment_status, stripe_payment_intent_id)
                 SELECT 'cs_old_' || n, id, (SELECT id FROM purchase_links WHERE slug = 'bench'), 'checkout:old-' || n,
                        900, 'eur', 'complete', 'paid', 'paid', 'pi_old_' || n
                   FROM (SELECT id, row_number() OVER () AS n FROM auth.users WHERE email LIKE '%@history.test') u`);
  await c.query(`INSERT INTO payments (checkout_session_id, subject_surrogate, stripe_payment_intent_id, user_id, amount,
                                       currency, livemode, status, paid_at)
                 SELECT id, subject_surrogate, stripe_payment_intent_id, user_id, 900, 'eur', false, 'paid', now()
                   FROM checkout_sessions WHERE stripe_checkout_session_id LIKE 'cs_old_%'`);
  await c.query(`INSERT INTO entitlements (payment_id, subject_surrogate, product_id, user_id, unlock_route, status,
                                           caused_by_event, granted_at)
                 SELECT p.id, p.subject_surrogate, (SELECT id FROM products WHERE code = 'bench'), p.user_id, '/bench',
                        'active', 'evt_old_' || p.stripe_payment_intent_id, now()
                   FROM payments p WHERE stripe_payment_intent_id LIKE 'pi_old_%'`);
  await c.query(`INSERT INTO scrollkeep.entitlement_changes (entitlement_id, from_status, to_status, caused_by_event)
                 SELECT id, NULL, 'active', caused_by_event FROM entitlements WHERE caused_by_event LIKE 'evt_old_%'`);
  // The history's own audit entries are not the benchmark's to flush.
  await c.query('TRUNCATE scrollkeep.audit_outbox, scrollkeep.audit_outbox_batches');
}

function completion(i, user) {
  return JSON.stringify({
    id: `evt_bench_${i}_${randomUUID().slice(0, 8)}`, object: 'event', api_version: '2024-06-20', created: Math.floor(Date.now() / 1000),
    livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: 'checkout.session.completed',
    data: { object: { id: `cs_bench_${i}`, object: 'checkout.session', amount_total: 900, currency: 'eur', livemode: false,
                      client_reference_id: user, metadata: { purchase_link: 'bench' }, payment_intent: `pi_bench_${i}`,
                      payment_status: 'paid', status: 'complete', customer_details: { email: `${user}@bench.test`, name: 'Bench' } } },
  });
}

export async function run(ctx) {
  const c = await ctx.client();
  const users = await prepare(c);
  const server = start(ctx, ['serve']);
  const worker = start(ctx, ['worker', '--kinds', 'stripe_event_job', '--concurrency', WORKER_CONCURRENCY, '--batch', '64']);
  try {
    return await measure(c, users, server, worker);
  } finally { // a failed run leaves no process behind
    for (const p of [server, worker]) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await c.end();
  }
}

async function measure(c, users, server, worker) {
  const url = await server.url;
  await sleep(500);
  const events = users.map((u, i) => { const body = completion(i + 1, u); return [body, sign(body)]; });
  const children = { server: server.child.pid, worker: worker.child.pid };
  const roles0 = roleTicks(children);
  const cpu0 = cpuTicks();
  const t0 = process.hrtime.bigint();
  await deliverDistinct(c, url, events);
  const accepted = Number(process.hrtime.bigint() - t0) / 1e9;
  // Wait (two minutes at the most) until no event is left to process; the partial index on
  // the unprocessed makes the poll nearly free, so it takes no CPU from the run it watches.
  let left = DISTINCT;
  for (let i = 0; i < 600 && left > 0; i++) {
    left = (await c.query(`SELECT count(*)::int AS n FROM stripe_events WHERE status IN ('received', 'processing', 'failed')`)).rows[0].n;
    if (left > 0) await sleep(200);
  }
  const cpu1 = cpuTicks();
  const roles1 = roleTicks(children);
  const { rows: [chk] } = await c.query(`
    SELECT (SELECT count(*) FROM stripe_events WHERE status = 'processed')::int AS processed,
           (SELECT count(*) FROM entitlements WHERE status = 'active' AND caused_by_event LIKE 'evt_bench_%')::int AS granted,
           (SELECT count(*) FROM payments WHERE stripe_payment_intent_id LIKE 'pi_bench_%')::int AS payments,
           (SELECT count(*) FROM delivery_jobs WHERE kind = 'receipt_email_job')::int AS receipts,
           extract(epoch FROM (SELECT max(granted_at) FROM entitlements WHERE caused_by_event LIKE 'evt_bench_%')
                            - (SELECT min(first_received_at) FROM stripe_events))::float8 AS end_to_end,
           extract(epoch FROM (SELECT max(first_received_at) - min(first_received_at) FROM stripe_events))::float8 AS stored`);
  if (left || chk.processed !== DISTINCT || chk.granted !== DISTINCT || chk.payments !== DISTINCT || chk.receipts !== DISTINCT)
    throw new Error(`unexpected ledger ${JSON.stringify({ left, ...chk })}`);
  const cpu = cpuSpent(cpu0, cpu1);

  // The repeats are the webhook's alone: the worker stops, and so does the upkeep the first
  // phase left for autovacuum and the checkpointer.
  worker.child.kill('SIGTERM');
  await worker.exited;
  await c.query('VACUUM ANALYZE');
  await c.query('CHECKPOINT');
  const one = events[0];
  const cpu2 = cpuTicks();
  const roles2 = roleTicks({ server: server.child.pid });
  const dup = await repeat(url, one[0]);
  const dupCpu = cpuSpent(cpu2, cpuTicks());
  const dupRoles = rolesPer(roles2, roleTicks({ server: server.child.pid }), dup.answered, dupCpu.busySeconds);
  const { rows: [cnt] } = await c.query('SELECT received_count FROM stripe_events WHERE stripe_event_id = $1',
                                        [JSON.parse(one[0]).id]);
  // wrk counts the deliveries answered; those still in flight when it stopped were stored too.
  if (cnt.received_count < dup.answered + 1 || cnt.received_count > dup.answered + 1 + 64)
    throw new Error(`counted ${cnt.received_count} deliveries, ${dup.answered} answered 200`);

  server.child.kill('SIGTERM');
  await server.exited;
  const out = {
    distinct_events: DISTINCT, history_purchases: HISTORY, clients: CLIENTS, http_threads: HTTP_THREADS,
    distinct_client: 'wrk', worker: `worker --kinds stripe_event_job --concurrency ${WORKER_CONCURRENCY} --batch 64`,
    webhook_accept_per_s: DISTINCT / accepted,
    webhook_store_per_s: DISTINCT / chk.stored,
    end_to_end_per_s: DISTINCT / chk.end_to_end,
    cpu_ms_per_event: (cpu.busySeconds * 1000) / DISTINCT,
    own_cpu_ms_per_event: ((cpu.busySeconds - cpu.stealSeconds) * 1000) / DISTINCT,
    cpu_busy_share: cpu.busyShare,
    cpu_steal_share: cpu.stealShare,
    context_switches_per_event: cpu.switches / DISTINCT,
    cpu_ms_per_event_by_role: rolesPer(roles0, roles1, DISTINCT, cpu.busySeconds),
    duplicates: dup.answered, duplicates_per_s: dup.answered / dup.seconds, duplicate_received_count: cnt.received_count,
    duplicate_client: 'wrk', duplicate_p99_latency: dup.p99, duplicate_cpu_steal_share: dupCpu.stealShare,
    duplicate_context_switches_per_delivery: dupCpu.switches / dup.answered,
    duplicate_cpu_ms_per_delivery_by_role: dupRoles,
  };
  const roles = (r) => Object.entries(r).map(([k, v]) => `${k} ${(1000 * v).toFixed(0)}`).join(', ');
  const pct = (x) => `${(100 * x).toFixed(0)}%`;
  console.log(`webhook distinct: ${out.webhook_accept_per_s.toFixed(0)} events/s accepted (verified, stored, 200); ` +
              `${out.end_to_end_per_s.toFixed(0)} events/s end to end (first stored to last grant)  [target > 2,000]; ` +
              `${out.cpu_ms_per_event.toFixed(2)} ms CPU per event, ${out.own_cpu_ms_per_event.toFixed(2)} without steal ` +
              `(machine busy ${pct(cpu.busyShare)}, stolen by the hypervisor ${pct(cpu.stealShare)}); ` +
              `${out.context_switches_per_event.toFixed(1)} context switches per event; ` +
              `µs CPU per event by process: ${roles(out.cpu_ms_per_event_by_role)}`);
  console.log(`webhook duplicates: ${out.duplicates_per_s.toFixed(0)} deliveries/s  [target > 10,000] ` +
              `(stolen by the hypervisor ${pct(dupCpu.stealShare)}; ` +
              `${out.duplicate_context_switches_per_delivery.toFixed(1)} context switches per delivery; ` +
              `µs CPU per delivery by process: ${roles(dupRoles)})`);
  return out;
}
