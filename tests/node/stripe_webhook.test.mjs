// The Stripe webhook's front door: signatures made by Stripe's own Node library (npm stripe,
// webhooks.generateTestHeaderString) accepted; tampered, stale, future, wrong-secret, v0-only,
// missing and oversized requests refused with nothing stored, each judged as Stripe's library
// judges it (constructEvent), except that a timestamp too far ahead is refused here too; two
// secrets during rotation; a verified event stored once however often and however
// concurrently it arrives, with one processing job; unknown types stored as ignored with a 2xx.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, startServer, superuser } from './lib/harness.mjs';

const SECRET = 'whsec_test_current_0123456789abcdef';
const OLD_SECRET = 'whsec_test_previous_fedcba9876543210';
const stripe = new Stripe('sk_test_unused');

let db;
let server;

before(async () => {
  db = await createDatabase();
  server = await startServer(baseEnv(db, { STRIPE_WEBHOOK_SECRET: `${SECRET},${OLD_SECRET}` }));
});
after(async () => {
  await server?.stop();
  await db?.drop();
});

const now = () => Math.floor(Date.now() / 1000);
const rid = (prefix) => `${prefix}_test_${randomBytes(12).toString('hex')}`;

/** A checkout.session.completed event shaped like Stripe's (see stripe/openapi fixtures3.json). */
function sessionCompleted({ id = rid('evt'), session = rid('cs'), type = 'checkout.session.completed' } = {}) {
  return {
    id, object: 'event', api_version: '2024-06-20', created: now(), livemode: false, pending_webhooks: 1,
    request: { id: null, idempotency_key: null }, type,
    data: {
      object: {
        id: session, object: 'checkout.session', amount_subtotal: 900, amount_total: 900, currency: 'eur',
        client_reference_id: '00000000-0000-4000-8000-000000000000', livemode: false, mode: 'payment',
        customer_details: { email: 'buyer@example.test', name: 'Ada Buyer', address: { country: 'DE', postal_code: '10115' } },
        metadata: { purchase_link: 'council-reading' }, payment_intent: rid('pi'), payment_status: 'paid', status: 'complete',
      },
    },
  };
}

function post(body, header) {
  const headers = { 'Content-Type': 'application/json' };
  if (header !== undefined) headers['Stripe-Signature'] = header;
  return fetch(`${server.url}/v1/stripe/webhook`, { method: 'POST', headers, body });
}

const sign = (payload, { secret = SECRET, timestamp = now(), scheme } = {}) =>
  stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp, ...(scheme ? { scheme } : {}) });

/** What Stripe's own library decides for this header (true: it would accept). */
function stripeAccepts(payload, header, secret = SECRET) {
  try {
    stripe.webhooks.constructEvent(payload, header, secret, 300);
    return true;
  } catch {
    return false;
  }
}

async function counts() {
  const { rows: [r] } = await db.query(`SELECT (SELECT count(*)::int FROM stripe_events) AS events,
                                                (SELECT count(*)::int FROM delivery_jobs WHERE kind = 'stripe_event_job') AS jobs`);
  return r;
}

test('a signed event is stored whole before the 200, with one processing job', async () => {
  const event = sessionCompleted();
  const payload = JSON.stringify(event);
  const res = await post(payload, sign(payload));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { received: true, status: 'received', duplicate: false });
  const { rows: [row] } = await db.query('SELECT * FROM stripe_events WHERE stripe_event_id = $1', [event.id]);
  assert.equal(row.type, 'checkout.session.completed');
  assert.equal(row.livemode, false);
  assert.equal(row.object_id, event.data.object.id);
  assert.equal(row.api_version, '2024-06-20');
  assert.equal(row.received_count, 1);
  assert.deepEqual(row.payload, event, 'the raw payload');
  const { rows: jobs } = await db.query(`SELECT payload, idempotency_key FROM delivery_jobs WHERE kind = 'stripe_event_job'`);
  assert.deepEqual(jobs, [{ payload: { stripe_events: [Number(row.id)] }, idempotency_key: `stripe-event:${row.id}` }], 'ids only in the job');
});

test('the same event delivered 50 times at once: one row, counted 50 times, one job', async () => {
  const event = sessionCompleted();
  const payload = JSON.stringify(event);
  const header = sign(payload);
  const before = await counts();
  const answers = await Promise.all(Array.from({ length: 50 }, () => post(payload, header)));
  const bodies = await Promise.all(answers.map((r) => r.json()));
  assert.deepEqual([...new Set(answers.map((r) => r.status))], [200]);
  assert.equal(bodies.filter((b) => !b.duplicate).length, 1, 'exactly one delivery was the first');
  const after = await counts();
  assert.equal(after.events, before.events + 1);
  assert.equal(after.jobs, before.jobs + 1);
  const { rows: [row] } = await db.query('SELECT received_count FROM stripe_events WHERE stripe_event_id = $1', [event.id]);
  assert.equal(row.received_count, 50);
});

test('deliveries arriving together are stored together: each event once, every delivery counted, in exactly one job; a bad one fails alone', async () => {
  const events = Array.from({ length: 30 }, () => sessionCompleted());
  const deliveries = events.flatMap((e, i) => Array.from({ length: 1 + (i % 3) }, () => JSON.stringify(e)));
  // Valid JSON, signed, shaped like an event, but PostgreSQL's jsonb refuses \u0000: the batch
  // it lands in fails, and each of its deliveries is stored again on its own.
  const bad = JSON.stringify(sessionCompleted()).replace('"Ada Buyer"', '"Ada\\u0000Buyer"');
  const order = [...deliveries, bad].sort(() => Math.random() - 0.5);
  const before = await counts();
  const answers = await Promise.all(order.map((body) => post(body, sign(body)).then(async (r) => ({ body, status: r.status, json: await r.json() }))));
  const refused = answers.filter((a) => a.status !== 200);
  assert.deepEqual(refused.map((a) => a.body), [bad], 'only the bad event is refused');
  for (const e of events) {
    const mine = answers.filter((a) => a.status === 200 && JSON.parse(a.body).id === e.id);
    assert.equal(mine.filter((a) => !a.json.duplicate).length, 1, 'one delivery of each was the first');
  }
  const after = await counts();
  assert.equal(after.events, before.events + events.length);
  assert.ok(after.jobs > before.jobs && after.jobs <= before.jobs + events.length, 'one job per batch stored');
  // The batches' jobs list every new event exactly once, and nothing else.
  const { rows: [listed] } = await db.query(
    `SELECT array_agg(e.id::bigint ORDER BY e.id) AS ids
       FROM (SELECT id, payload FROM delivery_jobs WHERE kind = 'stripe_event_job' ORDER BY id OFFSET $1) j,
            jsonb_array_elements(j.payload->'stripe_events') AS e(id)`, [before.jobs]);
  const { rows: [stored] } = await db.query('SELECT array_agg(id::bigint ORDER BY id) AS ids FROM stripe_events WHERE stripe_event_id = ANY($1)',
                                            [events.map((e) => e.id)]);
  assert.deepEqual(listed.ids, stored.ids);
  const { rows } = await db.query('SELECT stripe_event_id, received_count FROM stripe_events WHERE stripe_event_id = ANY($1)',
                                  [[...events.map((e) => e.id), JSON.parse(bad).id]]);
  assert.deepEqual(Object.fromEntries(rows.map((r) => [r.stripe_event_id, r.received_count])),
                   Object.fromEntries(events.map((e, i) => [e.id, 1 + (i % 3)])), 'counted, and the bad one not stored');
});

test('one HTTP thread takes many deliveries at once: each waits for its commit parked, not holding the thread', async () => {
  // With the thread blocked until its delivery's commit, one thread would store one delivery
  // per batch (64 jobs); parked, it goes on reading while the ingest gathers them.
  const one = await startServer(baseEnv(db, { STRIPE_WEBHOOK_SECRET: SECRET, SCROLLKEEP_HTTP_THREADS: '1' }));
  try {
    const events = Array.from({ length: 64 }, () => sessionCompleted());
    const before = await counts();
    const answers = await Promise.all(events.map((e) => {
      const body = JSON.stringify(e);
      return fetch(`${one.url}/v1/stripe/webhook`, { method: 'POST', body,
        headers: { 'Content-Type': 'application/json', 'Stripe-Signature': sign(body) } });
    }));
    assert.deepEqual([...new Set(answers.map((r) => r.status))], [200]);
    const after = await counts();
    assert.equal(after.events, before.events + events.length);
    assert.ok(after.jobs - before.jobs < events.length / 2,
              `${after.jobs - before.jobs} batches for ${events.length} deliveries on one thread`);
  } finally {
    await one.stop();
  }
});

test('a stop while deliveries wait for their commit answers each of them, then exits 0', async () => {
  const stopping = await startServer(baseEnv(db, { STRIPE_WEBHOOK_SECRET: SECRET }));
  const lock = await superuser(db.name);
  try {
    // Hold the table so that the deliveries' batch waits, parked, when the stop comes.
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE stripe_events IN EXCLUSIVE MODE');
    const events = Array.from({ length: 8 }, () => sessionCompleted());
    const answers = Promise.all(events.map((e) => {
      const body = JSON.stringify(e);
      return fetch(`${stopping.url}/v1/stripe/webhook`, { method: 'POST', body,
        headers: { 'Content-Type': 'application/json', 'Stripe-Signature': sign(body) } }).then((r) => r.status);
    }));
    for (let i = 0; i < 100; i++) { // until the batch waits on the lock
      const { rows: [w] } = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity
                                             WHERE application_name = 'scrollkeep-webhook' AND wait_event_type = 'Lock'`);
      if (w.n > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Past the server's 5 s for requests in flight: the parked ones must still be answered
    // before it stops.
    const exited = stopping.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 5500));
    await lock.query('COMMIT');
    assert.deepEqual(await answers, events.map(() => 200));
    assert.equal(await exited, 0);
    const { rows: [n] } = await db.query('SELECT count(*)::int AS n FROM stripe_events WHERE stripe_event_id = ANY($1)',
                                         [events.map((e) => e.id)]);
    assert.equal(n.n, events.length, 'each answered delivery is stored');
  } finally {
    await lock.end();
    await stopping.stop('SIGKILL');
  }
});

test('an event type scrollkeep does not act on is stored as ignored and answered 2xx', async () => {
  const event = { ...sessionCompleted(), type: 'customer.created', data: { object: { id: 'cus_test_1', object: 'customer' } } };
  const payload = JSON.stringify(event);
  const before = await counts();
  const res = await post(payload, sign(payload));
  assert.equal(res.status, 200);
  assert.equal((await res.json()).status, 'ignored');
  const after = await counts();
  assert.equal(after.events, before.events + 1);
  assert.equal(after.jobs, before.jobs, 'no job for it');
});

test('bad signatures are refused with 400 and nothing stored, as Stripe\'s library refuses them', async () => {
  const payload = JSON.stringify(sessionCompleted());
  const good = sign(payload);
  const v1 = good.match(/v1=([0-9a-f]{64})/)[1];
  const t = now();
  const cases = [
    { name: 'tampered body', body: payload.replace('"amount_total":900', '"amount_total":1'), header: good, code: 'mismatch' },
    { name: 'tampered signature', body: payload, header: good.replace(/v1=./, (m) => (m.endsWith('0') ? 'v1=1' : 'v1=0')), code: 'mismatch' },
    { name: 'stale', body: payload, header: sign(payload, { timestamp: t - 301 }), code: 'stale' },
    { name: 'wrong secret', body: payload, header: sign(payload, { secret: 'whsec_someone_else' }), code: 'mismatch' },
    { name: 'v0 only', body: payload, header: `t=${t},v0=${v1}`, code: 'no_v1' },
    { name: 'no timestamp', body: payload, header: `v1=${v1}`, code: 'malformed' },
    { name: 'missing header', body: payload, header: undefined, code: 'missing' },
  ];
  const before = await counts();
  for (const c of cases) {
    assert.equal(stripeAccepts(c.body, c.header ?? ''), false, `Stripe's library refuses: ${c.name}`);
    const res = await post(c.body, c.header);
    assert.equal(res.status, 400, c.name);
    const problem = await res.json();
    assert.equal(problem.code, c.code, c.name);
    assert.ok(!JSON.stringify(problem).includes(SECRET.slice(6, 16)), 'no part of a secret');
  }
  // Stripe's library accepts a timestamp far ahead; scrollkeep's window is 300 s both ways.
  const future = sign(payload, { timestamp: now() + 330 }); // a margin: a slow (sanitized) run takes seconds to get here
  assert.equal(stripeAccepts(payload, future), true);
  const res = await post(payload, future);
  assert.equal(res.status, 400);
  assert.equal((await res.json()).code, 'future');
  assert.deepEqual(await counts(), before, 'nothing stored');
  const logged = server.logs().filter((l) => l.event === 'stripe_webhook_refused').map((l) => l.reason_code);
  assert.deepEqual(logged.sort(), [...cases.map((c) => c.code), 'future'].sort(), 'each refusal logged, by reason');
});

test('headers Stripe\'s library accepts are accepted: several v1 values, other schemes, rotation', async () => {
  const payload = JSON.stringify(sessionCompleted());
  const t = now();
  const mine = sign(payload, { timestamp: t }).match(/v1=([0-9a-f]{64})/)[1];
  const several = `t=${t},v1=${'0'.repeat(64)},v0=${mine},v1=${mine}`;
  assert.equal(stripeAccepts(payload, several), true);
  assert.equal((await post(payload, several)).status, 200);
  // During rotation Stripe signs with the old secret too; either verifies.
  const event2 = sessionCompleted();
  const payload2 = JSON.stringify(event2);
  const byOld = sign(payload2, { secret: OLD_SECRET });
  assert.equal(stripeAccepts(payload2, byOld, OLD_SECRET), true);
  assert.equal((await post(payload2, byOld)).status, 200);
});

test('an oversized body is refused before it is read, and a signed non-event is refused', async () => {
  const before = await counts();
  const big = JSON.stringify({ ...sessionCompleted(), padding: 'x'.repeat(300 * 1024) });
  assert.equal((await post(big, sign(big))).status, 413);
  const notEvent = JSON.stringify({ hello: 'world' });
  assert.equal((await post(notEvent, sign(notEvent))).status, 422);
  const notJson = 'id=evt_1&type=x';
  assert.equal((await post(notJson, sign(notJson))).status, 400);
  assert.deepEqual(await counts(), before);
});

test('what is not a Stripe event is refused alone, with nothing stored; an id as long as stripe_events allows is stored', async () => {
  // A delivery that is JSON but not an event is answered 422, one that is not a JSON object
  // 400, each without failing the deliveries it arrived with.
  const event = (fields) => JSON.stringify({ ...sessionCompleted(), ...fields });
  const notEvents = [
    ...['evt_', 'evt_a-b', 'evt_a b', 'ev_1', 'EVT_1', '1', `evt_${'a'.repeat(251)}`].map((id) => event({ id })),
    ...['checkout', 'Checkout.session', '.a.b', 'a.b.', 'a..b', 'a.b-c', ''].map((type) => event({ type })),
    JSON.stringify({ hello: 'world' }), event({ object: 'charge' }), event({ id: 42 }), event({ livemode: 'false' }),
    event({ created: 1.5 }), event({ created: -1 }), event({ created: 99999999999999 }), event({ created: '1764000000' }),
    event({ data: {} }), event({ data: { object: 'cs_1' } }),
  ];
  const notJson = ['[]', '"evt_1"', '5', '{"id":"evt_1"', 'id=evt_1&type=x', `${event({})}\u0000trailing`,
                   event({}).replace('{', '{"id":"evt_twice",')]; // a key given twice
  const good = Array.from({ length: 6 }, () => sessionCompleted());
  const longest = sessionCompleted({ id: `evt_${'a'.repeat(250)}` }); // 254 characters: the limit
  const before = await counts();
  const send = (body) => post(body, sign(body)).then(async (r) => ({ body, status: r.status, json: await r.json() }));
  const answers = await Promise.all([...notEvents, ...notJson, ...[...good, longest].map((e) => JSON.stringify(e))]
    .sort(() => Math.random() - 0.5).map(send));
  const status = (body) => answers.find((a) => a.body === body).status;
  for (const body of notEvents) assert.equal(status(body), 422, body.slice(0, 80));
  for (const body of notJson) assert.equal(status(body), 400, body.slice(0, 80));
  for (const e of [...good, longest]) assert.equal(status(JSON.stringify(e)), 200, e.id.slice(0, 40));
  const after = await counts();
  assert.equal(after.events, before.events + good.length + 1, 'only the events were stored');
  const { rows: [job] } = await db.query(`SELECT j.idempotency_key FROM delivery_jobs j, stripe_events e
                                           WHERE e.stripe_event_id = $1 AND j.payload->'stripe_events' @> to_jsonb(e.id)`, [longest.id]);
  assert.match(job.idempotency_key, /^stripe-event:[0-9]+$/, 'its batch has its processing job');
});

test('without STRIPE_WEBHOOK_SECRET the webhook is unavailable, never open', async () => {
  const { STRIPE_WEBHOOK_SECRET, ...rest } = baseEnv(db);
  void STRIPE_WEBHOOK_SECRET;
  const bare = await startServer(rest);
  try {
    const payload = JSON.stringify(sessionCompleted());
    const res = await fetch(`${bare.url}/v1/stripe/webhook`, { method: 'POST', body: payload,
      headers: { 'Content-Type': 'application/json', 'Stripe-Signature': sign(payload) } });
    assert.equal(res.status, 503);
  } finally {
    await bare.stop();
  }
});
