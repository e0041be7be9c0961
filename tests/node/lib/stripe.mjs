// tests/node/lib/stripe.mjs — Stripe for the Shop's tests, with no network: a small stand-in
// for the Stripe API on loopback (the three calls scrollkeep makes: create a Checkout
// Session, retrieve one, list sessions and events), and events shaped like Stripe's (see
// stripe/openapi fixtures3.json), signed by Stripe's own Node library.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import Stripe from 'stripe';

export const WEBHOOK_SECRET = 'whsec_test_shop_0123456789abcdef0123';
const stripe = new Stripe('sk_test_unused');
const now = () => Math.floor(Date.now() / 1000);
export const rid = (prefix) => `${prefix}_test_${randomBytes(12).toString('hex')}`;

/**
 * Start the stand-in. prices maps a Stripe price id to {unit_amount, currency}. The returned
 * object holds the sessions it made, the create requests it received, events that "were not
 * delivered" (for reconcile), and switches: fail = {status, times} answers errors, hang = true
 * never answers.
 */
export async function startStripe(prices) {
  const api = { sessions: new Map(), creates: [], undelivered: [], fail: null, hang: false, prices };
  api.server = http.createServer((req, res) => {
    req.on('error', () => {}); // a client gone mid-request (its timeout) is no test failure
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => handle(api, req, res, body));
  });
  await new Promise((resolve) => api.server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${api.server.address().port}`;
  api.stop = () => new Promise((resolve) => { api.server.closeAllConnections(); api.server.close(resolve); });
  /** Mark a session complete at "Stripe" (as if the person paid). */
  api.complete = (id, paymentStatus = 'paid') => {
    const s = api.sessions.get(id);
    Object.assign(s, { status: 'complete', payment_status: paymentStatus, payment_intent: s.payment_intent ?? rid('pi') });
    return s;
  };
  return api;
}

function send(res, status, doc) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(doc));
}

function handle(api, req, res, body) {
  if (api.hang) return; // never answers: the client's timeout must act
  if (req.headers.authorization !== 'Bearer sk_test_shop') {
    return send(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
  }
  if (api.fail && api.fail.times !== 0) {
    if (api.fail.times > 0) api.fail.times--;
    return send(res, api.fail.status, { error: { type: 'api_error', code: 'stand_in_failure', message: 'boom' } });
  }
  const url = new URL(req.url, 'http://x');
  if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
    const form = Object.fromEntries(new URLSearchParams(body));
    const key = req.headers['idempotency-key'];
    api.creates.push({ key, form, headers: req.headers });
    const existing = [...api.sessions.values()].find((s) => s._key === key);
    if (existing) return send(res, 200, existing);
    const price = api.prices[form['line_items[0][price]']];
    if (!price) return send(res, 400, { error: { type: 'invalid_request_error', code: 'resource_missing' } });
    const id = rid('cs');
    const session = {
      id, object: 'checkout.session', _key: key, amount_subtotal: price.unit_amount, amount_total: price.unit_amount,
      currency: price.currency, client_reference_id: form.client_reference_id, created: now(),
      expires_at: now() + 86400, livemode: false, mode: 'payment', payment_intent: null, payment_status: 'unpaid',
      status: 'open', success_url: form.success_url, cancel_url: form.cancel_url,
      url: `https://checkout.stripe.test/c/pay/${id}`,
      metadata: { purchase_link: form['metadata[purchase_link]'], checkout: form['metadata[checkout]'] },
      customer_details: null,
    };
    api.sessions.set(id, session);
    return send(res, 200, session);
  }
  const one = url.pathname.match(/^\/v1\/checkout\/sessions\/(cs_[A-Za-z0-9_]+)$/);
  if (req.method === 'GET' && one) {
    const s = api.sessions.get(one[1]);
    return s ? send(res, 200, s) : send(res, 404, { error: { type: 'invalid_request_error', code: 'resource_missing' } });
  }
  if (req.method === 'GET' && (url.pathname === '/v1/checkout/sessions' || url.pathname === '/v1/events')) {
    const since = Number(url.searchParams.get('created[gte]') ?? 0);
    const all = url.pathname === '/v1/events' ? api.undelivered : [...api.sessions.values()];
    const items = all.filter((o) => o.created >= since);
    const after = url.searchParams.get('starting_after');
    const start = after ? items.findIndex((o) => o.id === after) + 1 : 0;
    const limit = Number(url.searchParams.get('limit') ?? 10);
    const page = items.slice(start, start + limit);
    return send(res, 200, { object: 'list', data: page, has_more: start + limit < items.length, url: url.pathname });
  }
  return send(res, 404, { error: { type: 'invalid_request_error', message: 'Unrecognized request URL' } });
}

/** An event around a data object. */
export function event(type, object, extra = {}) {
  return {
    id: rid('evt'), object: 'event', api_version: '2024-06-20', created: now(), livemode: false,
    pending_webhooks: 1, request: { id: null, idempotency_key: null }, type, data: { object }, ...extra,
  };
}

/** The session as Stripe's checkout.session.* events carry it, with the buyer's details. */
export function sessionObject(session, overrides = {}) {
  const { _key, ...s } = session;
  void _key;
  return { ...s, customer_details: { email: 'buyer-secret@example.test', name: 'Ada Secretname', address: { country: 'DE' } },
           customer_email: 'buyer-secret@example.test', ...overrides };
}

export function chargeRefunded(pi, amount, { full = true, refundId = rid('re') } = {}) {
  return event('charge.refunded', {
    id: rid('ch'), object: 'charge', amount, amount_refunded: full ? amount : Math.floor(amount / 3), currency: 'eur',
    payment_intent: pi, refunded: full, billing_details: { email: 'buyer-secret@example.test', name: 'Ada Secretname' },
    refunds: { object: 'list', data: [{ id: refundId, object: 'refund', amount: full ? amount : Math.floor(amount / 3), status: 'succeeded' }] },
  });
}

export function refundFailed(pi, refundId, amount) {
  return event('refund.failed', { id: refundId, object: 'refund', amount, payment_intent: pi, status: 'failed', failure_reason: 'expired_or_canceled_card' });
}

export function dispute(type, pi, amount, status, id = rid('dp')) {
  return event(type, { id, object: 'dispute', amount, currency: 'eur', payment_intent: pi, charge: rid('ch'), status, reason: 'fraudulent' });
}

/** POST an event to the webhook, signed as Stripe signs it. */
export function deliver(server, ev, secret = WEBHOOK_SECRET) {
  const payload = JSON.stringify(ev);
  const header = stripe.webhooks.generateTestHeaderString({ payload, secret });
  return fetch(`${server.url}/v1/stripe/webhook`, { method: 'POST', body: payload,
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header } });
}
