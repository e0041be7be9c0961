// The Shop end to end: the catalog imported from the command line, Checkout through a Stripe
// stand-in on loopback, events signed by Stripe's own library delivered to the webhook and
// processed by a real worker, and the entitlement ledger under duplicates, late and
// out-of-order events, refunds, disputes and races; replay and reconcile from the command line.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, privateCluster, runCli, startServer, startWorker, tempDir } from './lib/harness.mjs';
import { call, consentBody, createPerson, grant, readingBody } from './lib/people.mjs';
import { chargeRefunded, deliver, dispute, event, refundFailed, rid, sessionObject, startStripe, WEBHOOK_SECRET } from './lib/stripe.mjs';

const catalog = {
  products: [
    { stripe_product_id: 'prod_council', code: 'council', layer: 'council', name: 'The Council',
      prices: [{ stripe_price_id: 'price_council', currency: 'eur', unit_amount: 900 }] },
    { stripe_product_id: 'prod_share', code: 'share_pack', layer: 'artifacts', name: 'Share pack',
      prices: [{ stripe_price_id: 'price_share', currency: 'eur', unit_amount: 500 }] },
  ],
  purchase_links: [
    { slug: 'council-reading', price: 'price_council', unlock_route: '/council', channels: ['receipt', 'passport', 'pdf'] },
    { slug: 'share-pack', price: 'price_share', unlock_route: '/share-pack', channels: ['receipt', 'share_card'] },
  ],
};

let db;
let env;
let server;
let stripeApi;
let store;
let buyer;
let reading;
const dir = tempDir('sk-shop-');

before(async () => {
  db = await createDatabase();
  stripeApi = await startStripe({ price_council: { unit_amount: 900, currency: 'eur' }, price_share: { unit_amount: 500, currency: 'eur' } });
  store = tempDir('sk-store-');
  env = baseEnv(db, { STRIPE_API_BASE: stripeApi.url, STRIPE_SECRET_KEY: 'sk_test_shop', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
                      ARTIFACT_DIR: store, SCROLLKEEP_MAILDIR: path.join(dir, 'mail'), SCROLLKEEP_STRIPE_TIMEOUT_MS: '1500' });
  server = await startServer(env);
  buyer = await createPerson(db, 'buyer');
  await grant(server, buyer, 'email_delivery', 'passport_sync');
  reading = (await call(server, 'POST', '/v1/readings', { token: buyer.token, body: readingBody() })).json;
});
after(async () => {
  await server?.stop();
  await stripeApi?.stop();
  await db?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(store, { recursive: true, force: true });
});

async function drain(e = env) {
  const w = startWorker(e, ['--once']);
  const { code } = await w.exited;
  assert.equal(code, 0, w.stderr);
}

async function importCatalog(doc) {
  const file = path.join(dir, `catalog-${Math.random()}.json`);
  fs.writeFileSync(file, JSON.stringify(doc));
  return runCli(['shop', 'import', file], { env });
}

async function checkout(person, slug, readingId) {
  const res = await call(server, 'POST', '/v1/checkout', { token: person.token, body: { slug, ...(readingId ? { reading_id: readingId } : {}) } });
  return res;
}

/** A person's paid session: checkout, "pay" at the stand-in, and the completion event. */
async function paidSession(person, slug, readingId) {
  const res = await checkout(person, slug, readingId);
  assert.ok([200, 201].includes(res.status), res.text);
  const session = stripeApi.complete(res.json.checkout_session_id);
  return { session, completed: event('checkout.session.completed', sessionObject(session)) };
}

async function ledger(sessionId) {
  const { rows } = await db.query(
    `SELECT s.outcome, p.id AS payment_id, p.status AS payment_status, p.amount_refunded, e.id AS entitlement_id, e.status,
            (SELECT json_agg(json_build_object('from', c.from_status, 'to', c.to_status, 'cause', c.caused_by_event) ORDER BY c.id)
               FROM scrollkeep.entitlement_changes c WHERE c.entitlement_id = e.id) AS changes,
            (SELECT count(*)::int FROM payments WHERE checkout_session_id = s.id) AS payments,
            (SELECT count(*)::int FROM entitlements x JOIN payments y ON y.id = x.payment_id WHERE y.checkout_session_id = s.id) AS entitlements,
            (SELECT count(*)::int FROM delivery_jobs WHERE kind = 'receipt_email_job' AND payload->>'payment_id' = p.id::text) AS receipts
       FROM checkout_sessions s LEFT JOIN payments p ON p.checkout_session_id = s.id
       LEFT JOIN entitlements e ON e.payment_id = p.id
      WHERE s.stripe_checkout_session_id = $1`, [sessionId]);
  return rows[0];
}

test('shop import: the catalog is upserted and the report says what changed; a bad file writes nothing', async () => {
  const first = await importCatalog(catalog);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /products\s+2 created,\s+0 updated,\s+0 unchanged/);
  assert.match(first.stdout, /purchase links\s+2 created/);
  const again = await importCatalog(catalog);
  assert.match(again.stdout, /products\s+0 created,\s+0 updated,\s+2 unchanged/);
  assert.match(again.stdout, /prices\s+0 created,\s+0 updated,\s+2 unchanged/);
  const renamed = structuredClone(catalog);
  renamed.products[0].name = 'The Council of Five';
  assert.match((await importCatalog(renamed)).stdout, /products\s+0 created,\s+1 updated,\s+1 unchanged/);
  const before = (await db.query('SELECT count(*)::int AS n FROM purchase_links')).rows[0].n;
  const bad = structuredClone(catalog);
  bad.purchase_links.push({ slug: 'ghost', price: 'price_missing', unlock_route: '/ghost' });
  bad.products[1].name = 'Changed, but must roll back';
  const refused = await importCatalog(bad);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /purchase link ghost refers to something not in the catalog/);
  assert.equal((await db.query('SELECT count(*)::int AS n FROM purchase_links')).rows[0].n, before);
  assert.equal((await db.query(`SELECT name FROM products WHERE code = 'share_pack'`)).rows[0].name, 'Share pack', 'nothing written');
  assert.equal((await importCatalog({ products: [{ stripe_product_id: 'prod_x', code: 'x', layer: 'nope', name: 'x' }] })).code, 1);
  await importCatalog(catalog);
});

test('checkout refuses, naming them, the consents the link\'s channels need, with nothing written', async () => {
  const creates = stripeApi.creates.length;
  const res = await checkout(buyer, 'share-pack');
  assert.equal(res.status, 422);
  assert.deepEqual(res.json.missing_consent, ['public_share']);
  assert.equal(stripeApi.creates.length, creates, 'Stripe was not asked');
  assert.equal((await db.query('SELECT count(*)::int AS n FROM checkout_sessions')).rows[0].n, 0);
  assert.equal((await checkout(buyer, 'no-such-link')).status, 404);
  assert.equal((await call(server, 'POST', '/v1/checkout', { token: buyer.token, body: { slug: 'council-reading', extra: 1 } })).status, 422);
});

test('checkout opens a session at Stripe (idempotency key, form, return URLs) and reuses it while open', async () => {
  const res = await checkout(buyer, 'council-reading', reading.id);
  assert.equal(res.status, 201, res.text);
  assert.match(res.json.checkout_session_id, /^cs_test_/);
  assert.match(res.json.url, /^https:\/\/checkout\.stripe\.test\//);
  const sent = stripeApi.creates.at(-1);
  assert.match(sent.key, /^checkout:[0-9a-f-]{36}$/);
  assert.equal(sent.form['line_items[0][price]'], 'price_council');
  assert.equal(sent.form.client_reference_id, buyer.id);
  assert.equal(sent.form['metadata[purchase_link]'], 'council-reading');
  assert.equal(sent.form.success_url, 'http://127.0.0.1:3000/checkout/success?session_id={CHECKOUT_SESSION_ID}');
  assert.ok(!JSON.stringify(sent.form).includes(buyer.email), 'no e-mail address sent to Stripe');
  const { rows: [row] } = await db.query('SELECT * FROM checkout_sessions WHERE stripe_checkout_session_id = $1', [res.json.checkout_session_id]);
  assert.equal(row.status, 'open');
  assert.equal(row.idempotency_key, sent.key);
  assert.equal(Number(row.amount_total), 900);

  const creates = stripeApi.creates.length;
  const again = await Promise.all(Array.from({ length: 5 }, () => checkout(buyer, 'council-reading', reading.id)));
  assert.deepEqual(again.map((r) => r.status), [200, 200, 200, 200, 200]);
  assert.ok(again.every((r) => r.json.checkout_session_id === res.json.checkout_session_id && r.json.reused));
  assert.equal(stripeApi.creates.length, creates, 'no second session at Stripe');
  // Five concurrent first checkouts of another person: one session.
  const other = await createPerson(db, 'other');
  await grant(server, other, 'email_delivery', 'passport_sync');
  const racing = await Promise.all(Array.from({ length: 5 }, () => checkout(other, 'council-reading')));
  assert.equal(new Set(racing.map((r) => r.json.checkout_session_id)).size, 1);
  assert.equal(racing.filter((r) => r.status === 201).length, 1);
});

test('Stripe errors and timeouts are a clear 502 and leave no half-made row', async () => {
  const person = await createPerson(db, 'unlucky');
  await grant(server, person, 'email_delivery', 'passport_sync');
  stripeApi.fail = { status: 500, times: 1 };
  const res = await checkout(person, 'council-reading');
  assert.equal(res.status, 502);
  assert.match(res.json.detail, /Stripe answered 500 \(api_error, stand_in_failure\)/);
  stripeApi.hang = true;
  const slow = await checkout(person, 'council-reading');
  stripeApi.hang = false;
  assert.equal(slow.status, 502);
  assert.match(slow.json.detail, /could not be reached \(Timeout/);
  assert.equal((await db.query('SELECT count(*)::int AS n FROM checkout_sessions WHERE user_id = $1', [person.id])).rows[0].n, 0);
  assert.equal((await checkout(person, 'council-reading')).status, 201, 'and the next attempt works');
});

test('the same completion delivered 50 times at once: one payment, one entitlement, one receipt; it unlocks', async () => {
  const { session, completed } = await paidSession(buyer, 'council-reading', reading.id);
  const answers = await Promise.all(Array.from({ length: 50 }, () => deliver(server, completed)));
  assert.deepEqual([...new Set(answers.map((r) => r.status))], [200]);
  await drain();
  const l = await ledger(session.id);
  assert.equal(l.outcome, 'paid');
  assert.deepEqual([l.payments, l.entitlements, l.receipts], [1, 1, 1]);
  assert.equal(l.status, 'active');
  assert.deepEqual(l.changes, [{ from: null, to: 'active', cause: completed.id }], 'the change names its event');
  const unlock = await call(server, 'GET', '/v1/unlock?route=/council', { token: buyer.token });
  assert.deepEqual(unlock.json, { route: '/council', unlocked: true, entitlement_id: l.entitlement_id });
  const list = await call(server, 'GET', '/v1/entitlements', { token: buyer.token });
  assert.equal(list.json.entitlements[0].product_code, 'council');
  const stranger = await createPerson(db, 'stranger');
  assert.deepEqual((await call(server, 'GET', '/v1/entitlements', { token: stranger.token })).json, { entitlements: [] });
  assert.equal((await call(server, 'GET', '/v1/unlock?route=/council', { token: stranger.token })).json.unlocked, false);
  assert.equal((await call(server, 'GET', '/v1/unlock?route=council', { token: buyer.token })).status, 400);
  // Deliveries: the link's PDF of the reading, and a passport stamp (passport_sync stands).
  const { rows: arts } = await db.query(`SELECT kind FROM oracle_artifacts WHERE reading_id = $1`, [reading.id]);
  assert.deepEqual(arts.map((a) => a.kind), ['pdf']);
  const { rows: stamps } = await db.query(`SELECT label FROM passport_stamps WHERE user_id = $1 AND kind = 'purchase'`, [buyer.id]);
  assert.deepEqual(stamps, [{ label: 'The Council' }]);
  // The receipt went out once, without the buyer's details from Stripe.
  await drain();
  const mails = fs.readdirSync(path.join(dir, 'mail', 'new')).map((f) => fs.readFileSync(path.join(dir, 'mail', 'new', f), 'utf8'));
  const receipt = mails.map((m) => Buffer.from(m.split('\r\n\r\n').slice(2).join(''), 'base64').toString()).find((t) => t.includes('9.00 EUR'));
  assert.ok(receipt, 'a receipt with the amount');
  // The stored event lost who paid once processed, and kept what was paid.
  const { rows: [ev] } = await db.query('SELECT payload::text AS p, redacted_at FROM stripe_events WHERE stripe_event_id = $1', [completed.id]);
  assert.ok(ev.redacted_at);
  assert.ok(!ev.p.includes('buyer-secret@example.test') && !ev.p.includes('Secretname'), 'redacted');
  assert.ok(ev.p.includes(session.id) && ev.p.includes('"amount_total": 900'), 'ids and amounts kept');
});

test('a full refund before the completion arrives: the entitlement is never active, nothing delivered', async () => {
  const { session, completed } = await paidSession(buyer, 'council-reading');
  assert.equal((await deliver(server, chargeRefunded(session.payment_intent, 900))).status, 200);
  await drain();
  assert.equal((await deliver(server, completed)).status, 200);
  await drain();
  const l = await ledger(session.id);
  assert.equal(l.status, 'revoked');
  assert.equal(l.payment_status, 'refunded');
  assert.equal(l.receipts, 0, 'no receipt for what was refunded');
  assert.deepEqual(l.changes.map((c) => c.to), ['revoked']);
});

test('refund, then refund.failed: revoked, then restored; a partial refund keeps the entitlement', async () => {
  const { session, completed } = await paidSession(buyer, 'council-reading');
  await deliver(server, completed);
  await drain();
  const partial = chargeRefunded(session.payment_intent, 900, { full: false });
  await deliver(server, partial);
  await drain();
  let l = await ledger(session.id);
  assert.equal(l.status, 'active', 'a partial refund keeps it (documented policy)');
  assert.equal(l.payment_status, 'partially_refunded');
  assert.equal(Number(l.amount_refunded), 300);
  const refundId = rid('re');
  await deliver(server, chargeRefunded(session.payment_intent, 900, { refundId }));
  await drain();
  assert.equal((await ledger(session.id)).status, 'revoked');
  await deliver(server, refundFailed(session.payment_intent, refundId, 900));
  await drain();
  l = await ledger(session.id);
  assert.equal(l.status, 'active');
  assert.deepEqual(l.changes.map((c) => c.to), ['active', 'revoked', 'active']);
  assert.equal(l.receipts, 1, 'restoring is not a second sale');
  // Each step is an operator event, recorded by the database with the change (the worker moves
  // them into the chain): ids, amounts and the Stripe event behind it, never the buyer.
  const { rows: trail } = await db.query(
    `SELECT actor, actor_role, action, details FROM admin_audit_events
      WHERE (subject_type, subject_id) IN (('payment', $1), ('entitlement', $2), ('payment_intent', $3)) ORDER BY chain_seq`,
    [l.payment_id, l.entitlement_id, session.payment_intent]);
  assert.deepEqual(trail.map((t) => t.action), ['payment.recorded', 'entitlement.granted', 'refund.recorded', 'refund.recorded',
                                               'entitlement.revoked', 'refund.failed', 'entitlement.restored']);
  assert.deepEqual([...new Set(trail.map((t) => `${t.actor}/${t.actor_role}`))], ['stripe/system']);
  const { recorded_at: when, ...revoked } = trail[4].details;
  assert.deepEqual(revoked, { from: 'active', to: 'revoked', cause: l.changes[1].cause });
  assert.ok(!Number.isNaN(Date.parse(when)), 'the time it was recorded, kept through the outbox');
  assert.ok(!/@|Ada|Secretname/.test(JSON.stringify(trail)), 'no address or name in the trail');
  assert.equal((await runCli(['audit', 'verify'], { env })).code, 0);
});

test('a dispute opened then won: held, then active again; a late repeat changes nothing', async () => {
  const { session, completed } = await paidSession(buyer, 'council-reading');
  await deliver(server, completed);
  await drain();
  const opened = dispute('charge.dispute.created', session.payment_intent, 900, 'needs_response');
  const id = opened.data.object.id;
  await deliver(server, opened);
  await drain();
  assert.equal((await ledger(session.id)).status, 'held');
  await deliver(server, dispute('charge.dispute.closed', session.payment_intent, 900, 'won', id));
  await drain();
  assert.equal((await ledger(session.id)).status, 'active');
  await deliver(server, { ...opened, id: rid('evt') }); // a late re-send of the opening, as a new event
  await drain();
  const l = await ledger(session.id);
  assert.equal(l.status, 'active', 'the close outranks a late open');
  assert.deepEqual(l.changes.map((c) => c.to), ['active', 'held', 'active']);
});

test('a dispute lost: revoked, whatever order the events arrive in', async () => {
  const { session, completed } = await paidSession(buyer, 'council-reading');
  const id = rid('dp');
  // Closed (lost) arrives before created, and both before the completion, in the same second.
  await deliver(server, dispute('charge.dispute.closed', session.payment_intent, 900, 'lost', id));
  await deliver(server, dispute('charge.dispute.created', session.payment_intent, 900, 'needs_response', id));
  await drain(); // the disputes are processed before the completion arrives
  await deliver(server, completed);
  await drain();
  const l = await ledger(session.id);
  assert.equal(l.status, 'revoked');
  assert.equal(l.payment_status, 'disputed');
  assert.equal(l.receipts, 0);
});

test('unpaid, then async success; async failure and expiry close without granting', async () => {
  const a = await paidSession(buyer, 'council-reading');
  const unpaid = event('checkout.session.completed', sessionObject(a.session, { payment_status: 'unpaid' }));
  await deliver(server, unpaid);
  await drain();
  assert.equal((await ledger(a.session.id)).status, 'pending');
  assert.equal((await call(server, 'GET', '/v1/unlock?route=/council', { token: buyer.token })).json.unlocked, true, 'earlier purchase still unlocks');
  await deliver(server, event('checkout.session.async_payment_succeeded', sessionObject(a.session)));
  await deliver(server, unpaid); // a late repeat of "unpaid" must not take it back
  await drain();
  assert.equal((await ledger(a.session.id)).status, 'active');

  const person = await createPerson(db, 'async');
  await grant(server, person, 'email_delivery', 'passport_sync');
  const b = await paidSession(person, 'council-reading');
  await deliver(server, event('checkout.session.completed', sessionObject(b.session, { payment_status: 'unpaid' })));
  await deliver(server, event('checkout.session.async_payment_failed', sessionObject(b.session, { payment_status: 'unpaid' })));
  await drain();
  b.session.payment_status = 'unpaid'; // what Stripe says of a failed async payment
  const lb = await ledger(b.session.id);
  assert.equal(lb.status, 'closed');
  assert.equal(lb.payment_status, 'failed');
  assert.equal((await call(server, 'GET', '/v1/unlock?route=/council', { token: person.token })).json.unlocked, false);

  const c = await checkout(person, 'council-reading');
  const expired = stripeApi.sessions.get(c.json.checkout_session_id);
  expired.status = 'expired';
  await deliver(server, event('checkout.session.expired', sessionObject(expired)));
  await drain();
  const lc = await ledger(expired.id);
  assert.equal(lc.outcome, 'expired');
  assert.equal(lc.payments, 0, 'nothing to record');
  assert.equal((await checkout(person, 'council-reading')).status, 201, 'a new checkout after expiry');
});

test('events for an unknown session, or that do not match the catalog, unlock nothing and are kept for replay', async () => {
  const ghost = event('checkout.session.completed', sessionObject({ id: rid('cs'), amount_total: 900, currency: 'eur', livemode: false,
    status: 'complete', payment_status: 'paid', payment_intent: rid('pi'), metadata: { purchase_link: 'council-reading' } }));
  await deliver(server, ghost);
  const { session, completed } = await paidSession(buyer, 'council-reading');
  const cheap = event('checkout.session.completed', sessionObject(session, { amount_total: 1 }));
  await deliver(server, cheap);
  await drain();
  const { rows } = await db.query(`SELECT stripe_event_id, status, last_error FROM stripe_events WHERE stripe_event_id = ANY($1) ORDER BY id`,
    [[ghost.id, cheap.id]]);
  assert.deepEqual(rows.map((r) => [r.status, r.last_error]), [['failed', 'unknown_session'], ['failed', 'mismatch:amount']]);
  assert.equal((await ledger(session.id)).payments, 0, 'nothing granted for a wrong amount');
  await deliver(server, completed);
  await drain();
  assert.equal((await ledger(session.id)).status, 'active', 'the true completion grants');
  const replay = await runCli(['stripe', 'replay', '--failed'], { env });
  assert.equal(replay.code, 1, 'they still fail');
  assert.match(replay.stdout, new RegExp(`${ghost.id}\\s+checkout\\.session\\.completed\\s+unknown_session`));
  assert.match(replay.stdout, /replay: 2 events, 2 failed/);
});

test('the success page and the webhook racing: one payment, one entitlement, one receipt', async () => {
  const { session, completed } = await paidSession(buyer, 'council-reading');
  const worker = startWorker(env, ['--concurrency', '4']);
  try {
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => call(server, 'POST', `/v1/checkout/${session.id}/confirm`, { token: buyer.token })),
      ...Array.from({ length: 5 }, () => deliver(server, completed)),
    ]);
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
    const confirm = results[0].json;
    assert.equal(confirm.outcome, 'paid');
    assert.equal(confirm.entitlement.status, 'active');
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    await worker.stop();
  }
  const l = await ledger(session.id);
  assert.deepEqual([l.payments, l.entitlements, l.receipts, l.changes.length], [1, 1, 1, 1]);
  assert.equal((await call(server, 'POST', `/v1/checkout/${session.id}/confirm`, { token: (await createPerson(db, 'x')).token })).status, 404);
  assert.equal((await call(server, 'POST', '/v1/checkout/not-a-session/confirm', { token: buyer.token })).status, 400);
});

test('stripe replay re-runs a processed event as a no-op', async () => {
  const { session, completed } = await paidSession(buyer, 'council-reading');
  await deliver(server, completed);
  await drain();
  const before = await ledger(session.id);
  const replay = await runCli(['stripe', 'replay', completed.id], { env });
  assert.equal(replay.code, 0, replay.stdout + replay.stderr);
  assert.match(replay.stdout, /applied/);
  assert.deepEqual(await ledger(session.id), before);
  assert.equal((await runCli(['stripe', 'replay', 'evt_missing'], { env })).code, 1);
  assert.equal((await runCli(['stripe', 'replay'], { env })).code, 2);
});

test('stripe reconcile finds drift with the Stripe API, records the run, and is clean once settled', async () => {
  const person = await createPerson(db, 'recon');
  await grant(server, person, 'email_delivery', 'passport_sync');
  const { session, completed } = await paidSession(person, 'council-reading'); // paid at Stripe; never delivered
  const lost = event('charge.dispute.created', { id: rid('dp'), object: 'dispute', payment_intent: session.payment_intent, amount: 900, status: 'needs_response' });
  stripeApi.undelivered.push(lost);
  await db.query(`UPDATE stripe_events SET status = 'ignored' WHERE status = 'failed'`); // the unknown session's, above
  const found = await runCli(['stripe', 'reconcile', '--days', '2'], { env });
  assert.equal(found.code, 1, found.stdout + found.stderr);
  assert.match(found.stdout, new RegExp(`MISMATCH session_outcome\\s+${session.id}\\s+local=open stripe=paid`));
  assert.match(found.stdout, new RegExp(`MISMATCH event_not_delivered\\s+${lost.id}`));
  const { rows: [run] } = await db.query('SELECT * FROM scrollkeep.stripe_reconcile_runs ORDER BY id DESC LIMIT 1');
  assert.ok(run.finished_at);
  assert.equal(run.mismatches.length >= 2, true);
  assert.ok(!JSON.stringify(run.mismatches).includes('@'), 'ids only');
  await deliver(server, completed);
  await deliver(server, lost);
  await drain();
  await deliver(server, dispute('charge.dispute.closed', session.payment_intent, 900, 'won', lost.data.object.id));
  await drain();
  const clean = await runCli(['stripe', 'reconcile'], { env });
  assert.equal(clean.code, 0, clean.stdout);
  assert.match(clean.stdout, /0 mismatches/);
});

test('/metrics counts refused webhook requests by reason', async () => {
  await fetch(`${server.url}/v1/stripe/webhook`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
  const text = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(text, /^scrollkeep_stripe_webhook_refused_total\{reason="missing"\} [1-9]\d*$/m);
  assert.match(text, /^scrollkeep_stripe_webhook_received_total\{as="duplicate"\} [1-9]\d*$/m);
  assert.ok(!text.includes('@'));
});

test('PostgreSQL restarted between store and process: the stored event is processed after', async () => {
  const cluster = await privateCluster();
  const api = await startStripe({ price_council: { unit_amount: 900, currency: 'eur' } });
  const e = baseEnv(null, { DATABASE_URL: cluster.url, STRIPE_API_BASE: api.url, STRIPE_SECRET_KEY: 'sk_test_shop',
                            STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, SCROLLKEEP_MAILDIR: path.join(dir, 'mail2') });
  const srv = await startServer(e);
  try {
    const file = path.join(dir, 'cat2.json');
    fs.writeFileSync(file, JSON.stringify({ products: [catalog.products[0]], purchase_links: [{ ...catalog.purchase_links[0], channels: ['receipt'] }] }));
    assert.equal((await runCli(['shop', 'import', file], { env: e })).code, 0);
    const id = (await cluster.query(`INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'r@example.test') RETURNING id`)).rows[0].id;
    const { personToken } = await import('./lib/people.mjs');
    const person = { id, token: personToken(id) };
    await call(srv, 'POST', '/v1/consents', { token: person.token, body: consentBody('email_delivery') });
    const res = await call(srv, 'POST', '/v1/checkout', { token: person.token, body: { slug: 'council-reading' } });
    assert.equal(res.status, 201, res.text);
    const session = api.complete(res.json.checkout_session_id);
    const completed = event('checkout.session.completed', sessionObject(session));
    assert.equal((await deliver(srv, completed)).status, 200, 'stored and committed');
    await cluster.restart('immediate');
    await drain(e);
    const { rows: [row] } = await cluster.query(`SELECT e.status FROM entitlements e JOIN payments p ON p.id = e.payment_id
      JOIN checkout_sessions s ON s.id = p.checkout_session_id WHERE s.stripe_checkout_session_id = '${session.id}'`);
    assert.equal(row.status, 'active');
  } finally {
    await srv.stop();
    await api.stop();
    await cluster.stop();
  }
});

