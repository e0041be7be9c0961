// The ledger on a live shop's tables: a batch of purchases reads the big tables through their
// indexes, whatever the batch holds. A plan made for a batch of 128 once read the whole
// entitlements table twice per batch (a hash join over a sequential scan), a cost that grew
// with every sale ever made.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, startWorker } from './lib/harness.mjs';

const HISTORY = 20000;
const BATCH = 128;
let db;

before(async () => {
  db = await createDatabase();
});
after(async () => {
  await db?.drop();
});

/** HISTORY earlier purchases, paid and granted, and BATCH open sessions with a stored
 * completion event each, listed in one stripe_event_job. */
async function seed() {
  await db.query(`INSERT INTO products (stripe_product_id, code, layer, name) VALUES ('prod_scale', 'scale', 'council', 'Scale')`);
  await db.query(`INSERT INTO prices (stripe_price_id, product_id, currency, unit_amount)
                  SELECT 'price_scale', id, 'eur', 900 FROM products WHERE code = 'scale'`);
  await db.query(`INSERT INTO purchase_links (slug, price_id, unlock_route, channels)
                  SELECT 'scale', id, '/scale', '{receipt}' FROM prices WHERE stripe_price_id = 'price_scale'`);
  const users = Array.from({ length: HISTORY + BATCH }, () => randomUUID());
  await db.query(`INSERT INTO auth.users (id, email) SELECT u, 'scale-' || i || '@example.invalid'
                    FROM unnest($1::uuid[]) WITH ORDINALITY AS x(u, i)`, [users]);
  await db.query(`INSERT INTO checkout_sessions (stripe_checkout_session_id, user_id, purchase_link_id, idempotency_key, amount_total, currency)
                  SELECT 'cs_scale_' || i, u, (SELECT id FROM purchase_links WHERE slug = 'scale'), 'checkout:scale-' || i, 900, 'eur'
                    FROM unnest($1::uuid[]) WITH ORDINALITY AS x(u, i)`, [users]);
  await db.query(`UPDATE checkout_sessions SET status = 'complete', outcome = 'paid', payment_status = 'paid',
                         stripe_payment_intent_id = 'pi_old_' || substr(stripe_checkout_session_id, 10)
                   WHERE stripe_checkout_session_id LIKE 'cs_scale_%' AND substr(stripe_checkout_session_id, 10)::int > $1`, [BATCH]);
  await db.query(`INSERT INTO payments (checkout_session_id, subject_surrogate, stripe_payment_intent_id, user_id, amount, currency, status, paid_at)
                  SELECT id, subject_surrogate, stripe_payment_intent_id, user_id, 900, 'eur', 'paid', now()
                    FROM checkout_sessions WHERE stripe_payment_intent_id LIKE 'pi_old_%'`);
  await db.query(`INSERT INTO entitlements (payment_id, subject_surrogate, product_id, user_id, unlock_route, status, caused_by_event, granted_at)
                  SELECT p.id, p.subject_surrogate, (SELECT id FROM products WHERE code = 'scale'), p.user_id, '/scale', 'active',
                         'evt_old_' || p.stripe_payment_intent_id, now()
                    FROM payments p WHERE p.stripe_payment_intent_id LIKE 'pi_old_%'`);
  const { rows } = await db.query(
    `INSERT INTO stripe_events (stripe_event_id, type, livemode, object_id, payload)
     SELECT 'evt_scale_' || i, 'checkout.session.completed', false, 'cs_scale_' || i,
            jsonb_build_object('id', 'evt_scale_' || i, 'object', 'event', 'type', 'checkout.session.completed', 'livemode', false,
                               'created', 1764000000, 'data', jsonb_build_object('object', jsonb_build_object(
                                 'id', 'cs_scale_' || i, 'object', 'checkout.session', 'amount_total', 900, 'currency', 'eur',
                                 'livemode', false, 'metadata', jsonb_build_object('purchase_link', 'scale'),
                                 'payment_intent', 'pi_scale_' || i, 'payment_status', 'paid', 'status', 'complete')))
       FROM generate_series(1, $1::int) i
     RETURNING id`, [BATCH]);
  await db.query(`SELECT scrollkeep.enqueue_job('stripe_event_job', jsonb_build_object('stripe_events', $1::jsonb), 'scale-batch')`,
                 [JSON.stringify(rows.map((r) => Number(r.id)))]);
  await db.query('ANALYZE');
}

async function sequentialReads(table) {
  const { rows: [r] } = await db.query(`SELECT coalesce(seq_tup_read, 0)::bigint AS n FROM pg_stat_user_tables
                                         WHERE schemaname = 'public' AND relname = $1`, [table]);
  return Number(r.n);
}

test('a batch of 128 purchases reads the entitlements of 20,000 earlier ones by index, not whole', { timeout: 120000 }, async () => {
  await seed();
  const before = { entitlements: await sequentialReads('entitlements'), payments: await sequentialReads('payments') };
  // One worker run takes the job's 128 events in one transaction; its backends' statistics are
  // written out when they end.
  const w = startWorker(baseEnv(db), ['--once', '--kinds', 'stripe_event_job']);
  const { code } = await w.exited;
  assert.equal(code, 0, w.stderr);
  await new Promise((r) => setTimeout(r, 1500)); // the statistics collector's interval
  const read = { entitlements: await sequentialReads('entitlements') - before.entitlements,
                 payments: await sequentialReads('payments') - before.payments };
  // (Read after the statistics: this check reads the table whole itself.)
  const { rows: [done] } = await db.query(`SELECT count(*)::int AS n FROM entitlements WHERE caused_by_event LIKE 'evt_scale_%'
                                             AND status = 'active'`);
  assert.equal(done.n, BATCH, 'the batch was processed: every purchase granted');
  assert.ok(read.entitlements < HISTORY, `entitlements read by sequential scan: ${read.entitlements} rows`);
  assert.ok(read.payments < HISTORY, `payments read by sequential scan: ${read.payments} rows`);
});
