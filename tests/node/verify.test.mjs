// `scrollkeep verify`'s checks on real data: a clean database passes; each failure an
// operator meets — a payment without its grant, a grant without its payment, a purchase
// whose receipt never went, a dead, unknown, late or abandoned delivery, a person paying
// twice, a write that bypassed consent, private text in a public field, a Stripe event stuck —
// is named by its check with the id to look at, and never with personal data.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, runCli } from './lib/harness.mjs';
import { enqueue, setupTestKinds } from './lib/queue.mjs';

let db;
before(async () => {
  db = await createDatabase();
  await setupTestKinds(db);
});
after(async () => { await db?.drop(); });

async function person() {
  const id = randomUUID();
  await db.query(`INSERT INTO auth.users (id, email) VALUES ($1::uuid, $1::text || '@verify.test')`, [id]);
  return id;
}

/** A paid session and payment for user on the link, paid `ago` ago. */
async function paid(user, ago = '10 minutes', { session = `cs_test_v_${randomUUID().replace(/-/g, '').slice(0, 16)}` } = {}) {
  const { rows: [cs] } = await db.query(
    `INSERT INTO checkout_sessions (stripe_checkout_session_id, user_id, purchase_link_id, idempotency_key, amount_total, currency,
                                    status, outcome, payment_status, stripe_payment_intent_id)
     SELECT $1::text, $2::uuid, id, 'checkout:' || gen_random_uuid(), 900, 'eur', 'complete', 'paid', 'paid', 'pi_' || $1::text FROM purchase_links WHERE slug = 'v'
     RETURNING id, subject_surrogate, stripe_payment_intent_id`, [session, user]);
  const { rows: [p] } = await db.query(
    `INSERT INTO payments (checkout_session_id, subject_surrogate, stripe_payment_intent_id, user_id, amount, currency, livemode, status, paid_at)
     VALUES ($1, $2, $3, $4, 900, 'eur', false, 'paid', now() - $5::interval) RETURNING id`,
    [cs.id, cs.subject_surrogate, cs.stripe_payment_intent_id, user, ago]);
  return { session, sessionId: cs.id, payment: p.id };
}

async function grant(payment, user, status = 'active') {
  const { rows: [e] } = await db.query(
    `INSERT INTO entitlements (payment_id, subject_surrogate, product_id, user_id, unlock_route, status, caused_by_event, granted_at)
     SELECT p.id, p.subject_surrogate, (SELECT id FROM products WHERE code = 'v'), $2, '/v', $3, 'evt_v', now()
       FROM payments p WHERE p.id = $1 RETURNING id`, [payment, user, status]);
  return e.id;
}

test('verify names every failure an operator meets, by its check and id', async () => {
  const env = baseEnv(db);
  const clean = await runCli(['verify', '--json'], { env });
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  const names = JSON.parse(clean.stdout).checks.map((c) => c.name);
  for (const n of ['payment_without_entitlement', 'entitlement_without_payment', 'undelivered_purchase', 'lost_delivery',
                   'duplicate_payment', 'orphan_artifact', 'missing_consent', 'public_private_leak', 'stripe_event_stuck'])
    assert.ok(names.includes(n), n);

  await db.query(`INSERT INTO products (stripe_product_id, code, layer, name) VALUES ('prod_v', 'v', 'council', 'V')`);
  await db.query(`INSERT INTO prices (stripe_price_id, product_id, currency, unit_amount) SELECT 'price_v', id, 'eur', 900 FROM products WHERE code = 'v'`);
  await db.query(`INSERT INTO purchase_links (slug, price_id, unlock_route, channels) SELECT 'v', id, '/v', '{receipt}' FROM prices WHERE stripe_price_id = 'price_v'`);

  const a = await person();
  const ungranted = await paid(a);                          // paid, nothing unlocked
  const a2 = await person();
  const fine = await paid(a2, '10 minutes');                 // paid, granted, receipt recent enough
  await grant(fine.payment, a2);
  const b = await person();
  const refunded = await paid(b);
  const kept = await grant(refunded.payment, b);
  await db.query(`UPDATE payments SET status = 'refunded' WHERE id = $1`, [refunded.payment]);
  const c = await person();
  const old = await paid(c, '2 hours');                      // granted long ago, no receipt job
  await grant(old.payment, c);
  const c2 = await person();
  const inFlight = await paid(c2, '1 minute');              // too recent to judge
  await grant(inFlight.payment, c2);

  const dead = await enqueue(db, 'test_job');
  await db.query(`UPDATE delivery_jobs SET status = 'dead', finished_at = now() WHERE id = $1`, [dead]);
  const abandoned = await enqueue(db, 'test_job');
  await db.query(`UPDATE delivery_jobs SET status = 'running', lease_token = gen_random_uuid(), lease_owner = 'gone:1',
                                           lease_expires_at = now() - interval '10 minutes', leased_at = now() - interval '15 minutes' WHERE id = $1`, [abandoned]);
  const late = await enqueue(db, 'test_job', {}, { runAt: new Date(Date.now() + 3600e3), deliverBy: new Date(Date.now() + 1000) });
  await db.query(`UPDATE delivery_jobs SET deliver_by = now() - interval '1 minute' WHERE id = $1`, [late]);
  const waiting = await enqueue(db, 'test_job', {}, { runAt: new Date(Date.now() + 3600e3) });

  // The same person and link paid twice (the database allows it only for different sessions).
  const d = await person();
  const twice = [await paid(d), await paid(d)];

  // Writes that bypassed the database's consent triggers (as a careless writer could with them
  // disabled): a stamp without passport_sync.
  const e = await person();
  await db.query(`SET session_replication_role = replica;
                  INSERT INTO passports (user_id) VALUES ('${e}');
                  INSERT INTO passport_stamps (user_id, kind, label) VALUES ('${e}', 'purchase', 'Bought');
                  SET session_replication_role = origin;`);
  const { rows: [stamp] } = await db.query('SELECT id FROM passport_stamps WHERE user_id = $1', [e]);

  const question = 'Will the lighthouse keeper write back to me this winter?';
  const { rows: [leak] } = await db.query(
    `INSERT INTO readings (user_id, question, answer, spread, public_title, public_line)
     VALUES ($1, $2, 'The Hermit says wait.', '[{"card": "The Hermit", "position": "present", "reversed": false}]', 'The Hermit', $3)
     RETURNING id`, [e, question, `Asked: ${question}`]);

  const stuck = `evt_test_stuck_${randomUUID().slice(0, 8)}`;
  await db.query(`INSERT INTO stripe_events (stripe_event_id, type, livemode, object_id, payload, first_received_at, last_received_at)
                  VALUES ($1, 'checkout.session.completed', false, 'cs_x', '{"id": "x"}', now() - interval '20 minutes', now() - interval '20 minutes')`, [stuck]);

  const run = await runCli(['verify', '--json'], { env });
  assert.equal(run.code, 1);
  const checks = Object.fromEntries(JSON.parse(run.stdout).checks.map((c) => [c.name, c.items.map((i) => `${i.problem} ${i.id}`)]));
  assert.deepEqual(checks.payment_without_entitlement.sort(),
                   [`no_entitlement payment:${ungranted.payment}`, `no_entitlement payment:${twice[0].payment}`,
                    `no_entitlement payment:${twice[1].payment}`].sort());
  assert.deepEqual(checks.entitlement_without_payment, [`refunded entitlement:${kept}`]);
  assert.deepEqual(checks.undelivered_purchase, [`receipt_missing payment:${old.payment}`]);
  assert.deepEqual(checks.lost_delivery.sort(), [`dead job:${dead}`, `lease_expired job:${abandoned}`, `past_deadline job:${late}`].sort());
  assert.ok(!checks.lost_delivery.some((x) => x.endsWith(`job:${waiting}`)), 'a job merely waiting is fine');
  assert.equal(checks.duplicate_payment.length, 1);
  assert.deepEqual(checks.duplicate_payment[0].replace(/^paid_2_times checkout_session:/, '').split(',').sort(),
                   twice.map((t) => t.session).sort());
  assert.deepEqual(checks.missing_consent, [`passport_sync passport_stamp:${stamp.id}`]);
  assert.deepEqual(checks.public_private_leak, [`reading_public_fields reading:${leak.id}`]);
  assert.deepEqual(checks.stripe_event_stuck, [`received stripe_event:${stuck}`]);
  assert.ok(!run.stdout.includes('@verify.test') && !run.stdout.includes(question), 'ids only');

  const text = await runCli(['verify'], { env });
  assert.match(text.stdout, /^FINDING duplicate_payment\s+1$/m);
  assert.match(text.stdout, /^ok\s+orphan_artifact\s+0$/m);
});
