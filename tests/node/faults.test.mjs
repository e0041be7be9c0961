// The fault suite: while a load generator drives readings, consents, artifact requests and
// purchases (checkout at a Stripe stand-in, then its signed webhook) through the HTTP API and a
// worker drains the queue, the faults come one after another — the worker SIGKILLed mid-batch,
// PostgreSQL restarted (fast, then immediate), its connections exhausted, the SMTP server
// stopped and answering 4xx then 5xx, the Stripe API timing out and answering 500, the artifact
// disk full (a tmpfs filled to the last byte, when one can be mounted), the server sent SIGTERM mid-request — and
// then an invariant checker proves that nothing acknowledged was lost and nothing was done
// twice. `make test` runs it short; `make test-faults` (SK_FAULTS_SCALE=6) longer. The counts
// go to .var/test-results/faults.json (and docs/reliability.md).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { baseEnv, env as harness, privateCluster, runCli, startServer, startWorker, tempDir } from './lib/harness.mjs';
import { call, consentBody, personToken, readingBody } from './lib/people.mjs';
import { startSmtp } from './lib/smtp.mjs';
import { deliver, event, sessionObject, startStripe, WEBHOOK_SECRET } from './lib/stripe.mjs';

const SCALE = Number(process.env.SK_FAULTS_SCALE ?? 1);
const FAULT_MS = 1500 * SCALE; // how long each fault lasts
const RECOVERY_BOUND_MS = 20000; // the stated bound: back to work within this after a fault ends
const CLIENTS = SCALE > 1 ? 6 : 4; // the short form keeps the e-mail backlog (and its drain) small
const work = tempDir('sk-faults-');

let cluster;
let admin; // superuser pool on the private cluster
let env;
let server;
let worker;
let smtp;
let stripeApi;
let disk = null; // the tmpfs mount, when one could be made
const people = [];
const acked = { reading: [], consent: [], artifact: [], checkout: [], webhook: [] };
const stats = { requests: 0, ok: 0, refused: 0, errors: 0, faults: [], recoveries: [] };

async function q(sql, params) { return admin.query(sql, params); }

function newServer() { return startServer(env); }
function newWorker() { return startWorker(env, ['--concurrency', '4']); }

before(async () => {
  cluster = await privateCluster();
  // A pool: its connections die with each restart of PostgreSQL, and it makes new ones.
  admin = new pg.Pool({ host: cluster.pgdir, user: 'postgres', database: 'sk', max: 2 });
  admin.on('error', () => {});
  // Leases of 5 s so that a killed worker's jobs come back within the test.
  await q('UPDATE scrollkeep.job_kinds SET lease_seconds = 5');
  smtp = await startSmtp();
  stripeApi = await startStripe({ price_faults: { unit_amount: 900, currency: 'eur' } });
  const store = path.join(work, 'store');
  fs.mkdirSync(store);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', store], { stdio: 'ignore' });
    disk = store;
  } catch { /* not root: the disk fault is reported as skipped */ }
  env = baseEnv(null, {
    DATABASE_URL: cluster.url, ARTIFACT_DIR: store, SMTP_URL: smtp.url, MAIL_FROM: 'Oracle <o@scrollkeep.test>',
    STRIPE_API_BASE: stripeApi.url, STRIPE_SECRET_KEY: 'sk_test_shop', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    SCROLLKEEP_STRIPE_TIMEOUT_MS: '800', SCROLLKEEP_HTTP_THREADS: '8',
  });
  const catalog = path.join(work, 'catalog.json');
  fs.writeFileSync(catalog, JSON.stringify({
    products: [{ stripe_product_id: 'prod_faults', code: 'faults', layer: 'council', name: 'Faults',
                 prices: [{ stripe_price_id: 'price_faults', currency: 'eur', unit_amount: 900 }] }],
    purchase_links: [{ slug: 'faults', price: 'price_faults', unlock_route: '/faults', channels: ['receipt'] }],
  }));
  assert.equal((await runCli(['shop', 'import', catalog], { env })).code, 0);
  server = await newServer();
  worker = newWorker();
});
after(async () => {
  await worker?.stop();
  await server?.stop();
  await smtp?.stop();
  await stripeApi?.stop();
  await admin?.end();
  await cluster?.stop();
  if (disk) execFileSync('umount', ['-l', disk], { stdio: 'ignore' });
  fs.rmSync(work, { recursive: true, force: true });
  const results = process.env.SK_RESULTS;
  if (results) fs.writeFileSync(path.join(results, 'faults.json'), JSON.stringify({ scale: SCALE, ...stats, acked: Object.fromEntries(Object.entries(acked).map(([k, v]) => [k, v.length])) }, null, 2));
});

/** A person for each client, with the consents the load needs. */
async function person(i) {
  const { rows: [u] } = await q(`INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), $1) RETURNING id`, [`load${i}@faults.test`]);
  const p = { id: u.id, token: personToken(u.id), reading: null };
  for (const purpose of ['email_delivery', 'public_share']) {
    for (;;) {
      const res = await call(server, 'POST', '/v1/consents', { token: p.token, body: consentBody(purpose) }).catch(() => null);
      if (res?.status === 201) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return p;
}

/** One action of the mix; records what was acknowledged (2xx) as durable. */
async function act(p, n) {
  const kind = ['reading', 'artifact', 'consent', 'purchase', 'reading', 'consent', 'consent', 'purchase'][n % 8];
  stats.requests++;
  try {
    if (kind === 'reading' || !p.reading) {
      const res = await call(server, 'POST', '/v1/readings', { token: p.token, body: readingBody({ question: `Load question ${n} of ${p.id.slice(0, 8)}?` }) });
      if (res.status === 201) { acked.reading.push(res.json.id); p.reading = res.json.id; return stats.ok++; }
      return res.status >= 500 ? stats.refused++ : stats.errors++;
    }
    if (kind === 'consent') {
      const action = n % 8 === 1 ? 'withdrawn' : 'granted';
      const res = await call(server, 'POST', '/v1/consents', { token: p.token, body: consentBody('marketing', action) });
      if (res.status === 201) { acked.consent.push(res.json.id); return stats.ok++; }
      return res.status >= 500 ? stats.refused++ : stats.errors++;
    }
    if (kind === 'artifact') {
      const res = await call(server, 'POST', `/v1/readings/${p.reading}/artifacts`, { token: p.token, body: { kind: n % 3 ? 'pdf' : 'share_card' } });
      if (res.status === 202) { acked.artifact.push(res.json.id); return stats.ok++; }
      return res.status >= 500 ? stats.refused++ : stats.errors++;
    }
    const res = await call(server, 'POST', '/v1/checkout', { token: p.token, body: { slug: 'faults', reading_id: p.reading } });
    if (![200, 201].includes(res.status)) {
      if (res.status === 409) { p.reading = null; return stats.ok++; } // an open session for another reading: fine
      return res.status >= 500 ? stats.refused++ : stats.errors++;
    }
    acked.checkout.push(res.json.checkout_session_id);
    const session = stripeApi.complete(res.json.checkout_session_id);
    const completed = event('checkout.session.completed', sessionObject(session));
    // A new reading for the next purchase, whatever the answer: the same person buying the same
    // link for the same reading again is what verify's duplicate_payment reports to operators.
    p.reading = null;
    const hook = await deliver(server, completed);
    if (hook.status === 200) { acked.webhook.push({ event: completed.id, session: session.id }); return stats.ok++; }
    return stats.refused++; // Stripe would retry; the session stays unpaid here
  } catch {
    stats.refused++; // connection refused or reset: the server is down for the fault
  }
}

let loading = false;
async function loadLoop(p) {
  for (let n = 0; loading; n++) {
    await act(p, n);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Time until fn() is true again after a fault, checked against the stated bound. */
async function recovered(name, fn, bound = RECOVERY_BOUND_MS) {
  const start = Date.now();
  for (;;) {
    if (await fn().catch(() => false)) break;
    if (Date.now() - start > bound) {
      const { rows } = await q(`SELECT kind, status, count(*)::int AS n, min(next_run_at) AS next FROM delivery_jobs
                                 WHERE status IN ('queued', 'running') GROUP BY 1, 2`);
      throw new Error(`${name}: not done within ${bound} ms; jobs ${JSON.stringify(rows)};`
                      + ` worker: ${worker.stderr.split('\n').slice(-8).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  stats.recoveries.push({ fault: name, ms: Date.now() - start });
}
const serverAnswers = async () => (await fetch(`${server.url}/readyz`)).status === 200;
async function jobsMove() {
  const before = (await q(`SELECT count(*)::int AS n FROM delivery_attempts`)).rows[0].n;
  await new Promise((r) => setTimeout(r, 300));
  const { rows: [x] } = await q(`SELECT count(*)::int AS n FROM delivery_attempts`);
  const { rows: [due] } = await q(`SELECT count(*)::int AS n FROM delivery_jobs WHERE status = 'queued' AND next_run_at <= now()`);
  return x.n > before || due.n === 0;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const faults = [
  ['worker SIGKILLed mid-batch, three times', async () => {
    for (let i = 0; i < 3; i++) {
      await sleep(FAULT_MS / 3);
      await worker.kill();
      worker = newWorker();
    }
  }, jobsMove],
  ['PostgreSQL restarted (fast)', async () => { await cluster.restart('fast'); }, serverAnswers],
  ['PostgreSQL restarted (immediate)', async () => { await cluster.restart('immediate'); }, serverAnswers],
  ['PostgreSQL connections exhausted', async () => {
    const held = [];
    for (let i = 0; i < 200; i++) {
      const c = new pg.Client({ host: cluster.pgdir, user: 'scrollkeep_app', database: 'sk' });
      c.on('error', () => {});
      try { await c.connect(); held.push(c); } catch { break; }
    }
    await sleep(FAULT_MS);
    await Promise.all(held.map((c) => c.end().catch(() => {})));
  }, serverAnswers],
  ['SMTP server stopped, then 4xx, then 5xx', async () => {
    const port = smtp.port;
    await smtp.stop();
    await sleep(FAULT_MS);
    await smtp.start(port);
    smtp.refuse = { code: 451, times: -1, text: 'try later' };
    await sleep(FAULT_MS);
    smtp.refuse = { code: 554, times: 3, text: 'refused' };
    await sleep(FAULT_MS);
    smtp.refuse = null;
  }, jobsMove],
  ['Stripe API timing out, then answering 500', async () => {
    stripeApi.hang = true;
    await sleep(FAULT_MS);
    stripeApi.hang = false;
    stripeApi.fail = { status: 500, times: -1 };
    await sleep(FAULT_MS);
    stripeApi.fail = null;
  }, serverAnswers],
  ['artifact disk full', async () => {
    if (!disk) return 'skipped: no tmpfs could be mounted (not root)';
    const filler = path.join(disk, 'filler');
    const { bavail, bsize } = fs.statfsSync(disk);
    const fd = fs.openSync(filler, 'w');
    try {
      for (let left = bavail * bsize; left > 0; left -= 1 << 20) fs.writeSync(fd, Buffer.alloc(Math.min(left, 1 << 20)));
    } catch { /* full: as intended */ } finally { fs.closeSync(fd); }
    await sleep(FAULT_MS);
    fs.rmSync(filler, { force: true });
    return null;
  }, jobsMove],
  ['server SIGTERM mid-request', async () => {
    await server.stop('SIGTERM');
    server = await newServer();
  }, serverAnswers],
];

test('under load and faults, nothing acknowledged is lost and nothing is done twice', { timeout: 600000 }, async () => {
  for (let i = 0; i < CLIENTS; i++) people.push(await person(i));
  loading = true;
  const loops = people.map((p) => loadLoop(p));
  try {
    await sleep(FAULT_MS);
    for (const [name, run, check] of faults) {
      const started = Date.now();
      const note = await run();
      stats.faults.push({ fault: name, ms: Date.now() - started, ...(note ? { note } : {}) });
      await recovered(name, check);
      await sleep(FAULT_MS / 2);
    }
  } finally {
    loading = false;
    await Promise.all(loops);
  }

  // Let the queue drain (a backlog of e-mails takes its time: 180 s at most, not a recovery
  // bound): everything due is finished, dead with a reason, or unknown.
  await recovered('drain', async () => {
    const { rows: [x] } = await q(`SELECT count(*)::int AS n FROM delivery_jobs WHERE status IN ('queued', 'running') AND next_run_at <= now() + interval '2 minutes'`);
    return x.n === 0;
  }, 180000).catch(async (e) => {
    const { rows } = await q(`SELECT kind, status, count(*) FROM delivery_jobs GROUP BY 1, 2`);
    throw new Error(`${e.message}: ${JSON.stringify(rows)}`);
  });
  await worker.stop();
  assert.equal((await runCli(['sweep', '--grace', '0'], { env })).code, 0);

  const violations = [];
  const check = (ok, what) => { if (!ok) violations.push(what); };
  // 1. Every acknowledged write is in the database.
  const present = async (sql, ids) => (await q(sql, [ids])).rows[0].n;
  check(await present('SELECT count(*)::int AS n FROM readings WHERE id = ANY($1::uuid[])', acked.reading) === acked.reading.length, 'a 201 reading is missing');
  check(await present('SELECT count(*)::int AS n FROM consent_events WHERE id = ANY($1::bigint[])', acked.consent) === acked.consent.length, 'a 201 consent is missing');
  check(await present('SELECT count(*)::int AS n FROM oracle_artifacts WHERE id = ANY($1::uuid[])', acked.artifact) === new Set(acked.artifact).size, 'a 202 artifact is missing');
  check(await present('SELECT count(*)::int AS n FROM stripe_events WHERE stripe_event_id = ANY($1::text[])', acked.webhook.map((w) => w.event)) === acked.webhook.length, 'a 200 webhook event is missing');
  // 2. Every paid session: exactly one payment and one active entitlement.
  const { rows: money } = await q(`
    SELECT cs.stripe_checkout_session_id AS s, count(DISTINCT p.id)::int AS payments,
           count(DISTINCT e.id) FILTER (WHERE e.status = 'active')::int AS active
      FROM checkout_sessions cs LEFT JOIN payments p ON p.checkout_session_id = cs.id
      LEFT JOIN entitlements e ON e.payment_id = p.id
     WHERE cs.stripe_checkout_session_id = ANY($1::text[]) GROUP BY 1`, [acked.webhook.map((w) => w.session)]);
  check(money.length === acked.webhook.length, 'a paid session is missing');
  for (const m of money) check(m.payments === 1 && m.active === 1, `session ${m.s}: ${m.payments} payments, ${m.active} active`);
  // 3. Every delivery: delivered, dead with a reason, or unknown for an operator; none lost.
  const { rows: jobs } = await q(`SELECT status, count(*)::int AS n, count(*) FILTER (WHERE status = 'dead' AND last_error IS NULL)::int AS mute FROM delivery_jobs GROUP BY 1`);
  for (const j of jobs) {
    check(['succeeded', 'dead', 'unknown', 'cancelled', 'queued'].includes(j.status), `${j.n} jobs ${j.status}`); // queued: only retries scheduled later (below)
    check(j.mute === 0, 'a dead job without its reason');
  }
  const { rows: [late] } = await q(`SELECT count(*)::int AS n FROM delivery_jobs WHERE status = 'queued' AND next_run_at <= now()`);
  check(late.n === 0, `${late.n} jobs due but not run`);
  //    Each receipt for an acknowledged purchase exists, and was sent at most once unless marked.
  const { rows: [receipts] } = await q(`
    SELECT count(*)::int AS n FROM payments p JOIN checkout_sessions cs ON cs.id = p.checkout_session_id
     WHERE cs.stripe_checkout_session_id = ANY($1::text[])
       AND NOT EXISTS (SELECT 1 FROM delivery_jobs j WHERE j.idempotency_key = 'receipt:' || p.id)`, [acked.webhook.map((w) => w.session)]);
  check(receipts.n === 0, `${receipts.n} purchases without a receipt job`);
  const byId = new Map();
  for (const m of smtp.received) { const id = m.parsed.messageId; byId.set(id, (byId.get(id) ?? 0) + 1); }
  const twice = [...byId.entries()].filter(([, n]) => n > 1).map(([id]) => id);
  for (const id of twice) {
    const { rows: [marked] } = await q(`SELECT count(*)::int AS n FROM delivery_attempts a JOIN email_messages m ON m.job_id = a.job_id
                                         WHERE m.message_id = $1 AND a.outcome IN ('unknown', 'transient')`, [id]);
    check(marked.n > 0, `message ${id} sent twice without being marked`);
  }
  // 4. No orphan artifact after the sweeper.
  const verify = JSON.parse((await runCli(['verify', '--json'], { env })).stdout);
  const orphans = verify.checks.find((c) => c.name === 'orphan_artifact').items.filter((i) => i.problem === 'orphan');
  check(orphans.length === 0, `${orphans.length} orphan files`);
  for (const name of ['payment_without_entitlement', 'entitlement_without_payment']) {
    check(verify.checks.find((c) => c.name === name).items.length === 0, `verify: ${name}`);
  }
  // A person who paid again after their first payment's answer was lost (the server stopped
  // mid-request) paid twice on purpose of the system: verify names it for an operator's refund.
  stats.duplicate_payments_for_operators = verify.checks.find((c) => c.name === 'duplicate_payment').items.length;

  stats.violations = violations;
  stats.jobs = Object.fromEntries(jobs.map((j) => [j.status, j.n]));
  stats.emails = smtp.received.length;
  assert.deepEqual(violations, [], JSON.stringify(stats, null, 2));
  assert.ok(acked.reading.length > 0 && acked.webhook.length > 0 && acked.artifact.length > 0, 'the load did work');
  assert.equal(stats.faults.length, faults.length);
});
