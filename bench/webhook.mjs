// bench/webhook.mjs — the Stripe webhook through the whole path. Distinct signed
// checkout.session.completed events (one per prepared checkout session) are POSTed by 64
// concurrent clients to `scrollkeep serve` while `scrollkeep worker` processes them: events
// per second from the first request to the last entitlement granted (verify, store, commit,
// 200, then process, pay, grant, ledger row, receipt job). Then one event delivered again and
// again for a fixed time by wrk: duplicate deliveries per second (verify, count up, 200).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';

const DISTINCT = Number(process.env.SK_BENCH_EVENTS ?? 6000);
const REPEAT_SECONDS = Number(process.env.SK_BENCH_REPEAT_SECONDS ?? 10);
const CLIENTS = 64;
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
           SCROLLKEEP_MIGRATIONS_DIR: `${ctx.root}/supabase/migrations`,
           ...(process.env.SCROLLKEEP_HTTP_THREADS ? { SCROLLKEEP_HTTP_THREADS: process.env.SCROLLKEEP_HTTP_THREADS } : {}) },
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

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });

function post(url, body, header) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/stripe/webhook`, {
      method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header, 'Content-Length': Buffer.byteLength(body) },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(body);
  });
}

/** Send every [body, header] with CLIENTS requests in flight; returns seconds and non-200s. */
async function send(url, items) {
  let next = 0;
  let bad = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (next < items.length) {
      const [body, header] = items[next++];
      if ((await post(url, body, header)) !== 200) bad++;
    }
  }));
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, bad };
}

/** Deliver body again and again for REPEAT_SECONDS with wrk (CLIENTS connections, a freshly
 * signed header each time); wrk, in C, leaves the two cores to the server more than Node would. */
async function repeat(url, body) {
  const dir = mkdtempSync(join(tmpdir(), 'sk-webhook-'));
  const file = join(dir, 'deliveries.tsv');
  writeFileSync(file, Array.from({ length: 4096 }, () => `${sign(body)}\t${body}\n`).join(''));
  const out = await new Promise((resolve, reject) => {
    execFile('wrk', ['-t', '2', '-c', String(CLIENTS), '-d', `${REPEAT_SECONDS}s`, '--latency',
                     '-s', new URL('./webhook_repeat.lua', import.meta.url).pathname, url, '--', file],
             (err, stdout, stderr) => (err ? reject(new Error(`wrk: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
  rmSync(dir, { recursive: true, force: true });
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
  await c.query('VACUUM ANALYZE');
  return users;
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
  const worker = start(ctx, ['worker', '--concurrency', '4', '--batch', '64']);
  try {
    return await measure(c, users, server, worker);
  } finally { // a failed run leaves no process behind
    for (const p of [server, worker]) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    agent.destroy();
    await c.end();
  }
}

async function measure(c, users, server, worker) {
  const url = await server.url;
  await sleep(500);
  const events = users.map((u, i) => { const body = completion(i + 1, u); return [body, sign(body)]; });
  const t0 = process.hrtime.bigint();
  const sent = await send(url, events);
  let granted = 0;
  for (let i = 0; i < 4800 && granted < DISTINCT; i++) { // two minutes at the most
    granted = (await c.query(`SELECT count(*)::int AS n FROM entitlements WHERE status = 'active'`)).rows[0].n;
    if (granted < DISTINCT) await sleep(25);
  }
  const endToEnd = Number(process.hrtime.bigint() - t0) / 1e9;
  if (granted !== DISTINCT || sent.bad) throw new Error(`granted ${granted} of ${DISTINCT}, ${sent.bad} refused`);
  const { rows: [chk] } = await c.query(`SELECT (SELECT count(*) FROM payments)::int AS payments,
                                                (SELECT count(*) FROM delivery_jobs WHERE kind = 'receipt_email_job')::int AS receipts`);
  if (chk.payments !== DISTINCT || chk.receipts !== DISTINCT) throw new Error(`unexpected ledger ${JSON.stringify(chk)}`);

  // The repeats are the webhook's alone: the worker (with 6,000 receipts still to send) stops.
  // So does the upkeep the first phase left for autovacuum and the checkpointer.
  worker.child.kill('SIGTERM');
  await worker.exited;
  await c.query('VACUUM ANALYZE');
  await c.query('CHECKPOINT');
  const one = events[0];
  const dup = await repeat(url, one[0]);
  const { rows: [cnt] } = await c.query('SELECT received_count FROM stripe_events WHERE stripe_event_id = $1',
                                        [JSON.parse(one[0]).id]);
  // wrk counts the deliveries answered; those still in flight when it stopped were stored too.
  if (cnt.received_count < dup.answered + 1 || cnt.received_count > dup.answered + 1 + CLIENTS)
    throw new Error(`counted ${cnt.received_count} deliveries, ${dup.answered} answered 200`);

  server.child.kill('SIGTERM');
  await server.exited;
  const out = {
    distinct_events: DISTINCT, clients: CLIENTS,
    webhook_accept_per_s: DISTINCT / sent.seconds,
    end_to_end_per_s: DISTINCT / endToEnd,
    duplicates: dup.answered, duplicates_per_s: dup.answered / dup.seconds, duplicate_received_count: cnt.received_count,
    duplicate_client: 'wrk', duplicate_p99_latency: dup.p99,
  };
  console.log(`webhook distinct: ${out.webhook_accept_per_s.toFixed(0)} events/s accepted (verified, stored, 200); ` +
              `${out.end_to_end_per_s.toFixed(0)} events/s end to end (to the last grant)  [target > 2,000]`);
  console.log(`webhook duplicates: ${out.duplicates_per_s.toFixed(0)} deliveries/s  [target > 10,000]`);
  return out;
}
