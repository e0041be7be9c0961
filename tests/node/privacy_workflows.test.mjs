// Forgetting the person, provably: the export (API, worker, archive; CLI), the coverage of the
// column classification, the deletion workflow (grace period and cancel; the CLI run to its
// end; a crash between steps resumed by the worker), and the proof — zero hits in every table
// and file for the person's identifiers, the report's hash in the audit chain, the payments
// kept pseudonymized, the tombstone a keyed hash and nothing else.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, runCli, startServer, startWorker, tempDir } from './lib/harness.mjs';
import { call, createPerson, grant, readingBody } from './lib/people.mjs';

const QUESTION = 'Private-Question-5d2e: shall I leave the city for the sea?';
const ANSWER = 'Private-Answer-8b41: the Chariot moves when the reins are held lightly.';
const GIFT = { email: 'gift-friend-61a9@example.test', name: 'Ottoline Verbrugge', message: 'For your journey' };
// Each person's own texts, so that one person's proof is not disturbed by another's data.
const texts = (label) => ({ question: `${QUESTION} (${label})`, answer: `${ANSWER} (${label})`,
                            gift: { ...GIFT, email: `${label}-${GIFT.email}`, name: `${GIFT.name} ${label}` } });

let db;
let env;
let server;
let store;
let maildir;

before(async () => {
  db = await createDatabase();
  store = tempDir('sk-store-');
  maildir = tempDir('sk-mail-');
  env = baseEnv(db, { ARTIFACT_DIR: store, SCROLLKEEP_MAILDIR: maildir, MAIL_FROM: 'The Oracle <oracle@scrollkeep.test>',
                      SCROLLKEEP_ERASURE_KEY: 'test-erasure-key-0123456789abcdef' });
  server = await startServer(env);
});
after(async () => {
  await server?.stop();
  await db?.drop();
  fs.rmSync(store, { recursive: true, force: true });
  fs.rmSync(maildir, { recursive: true, force: true });
});

async function drain() {
  const w = startWorker(env, ['--once']);
  const { code } = await w.exited;
  assert.equal(code, 0, w.stderr);
  return w;
}

/** A person with what the product holds: consents, a reading, a PDF and a gift, a paid
 * purchase with its Stripe event (the buyer's e-mail in the payload), and a queued echo. */
async function populatedPerson(label) {
  const p = await createPerson(db, label);
  await grant(server, p, 'email_delivery', 'public_share', 'gift_delivery', 'passport_sync');
  p.texts = texts(label);
  const r = await call(server, 'POST', '/v1/readings', { token: p.token, body: readingBody({ question: p.texts.question, answer: p.texts.answer }) });
  assert.equal(r.status, 201, r.text);
  p.reading = r.json.id;
  for (const body of [{ kind: 'pdf' }, { kind: 'gift', gift: p.texts.gift }]) {
    const a = await call(server, 'POST', `/v1/readings/${p.reading}/artifacts`, { token: p.token, body });
    assert.equal(a.status, 202, a.text);
  }
  await drain();
  const { rows: [pdf] } = await db.query(`SELECT storage_path FROM oracle_artifacts WHERE user_id = $1 AND kind = 'pdf'`, [p.id]);
  assert.ok(pdf.storage_path, 'the pdf is rendered');
  p.pdf = pdf.storage_path;
  const cs = `cs_test_priv_${p.id.slice(0, 8)}`;
  const pi = `pi_test_priv_${p.id.slice(0, 8)}`;
  await db.query(`INSERT INTO products (stripe_product_id, code, layer, name) VALUES ('prod_priv', 'priv', 'council', 'Council')
                  ON CONFLICT DO NOTHING`);
  await db.query(`INSERT INTO prices (stripe_price_id, product_id, currency, unit_amount)
                  SELECT 'price_priv', id, 'eur', 900 FROM products WHERE code = 'priv' ON CONFLICT DO NOTHING`);
  await db.query(`INSERT INTO purchase_links (slug, price_id, unlock_route, channels)
                  SELECT 'priv', id, '/council', '{}' FROM prices WHERE stripe_price_id = 'price_priv' ON CONFLICT DO NOTHING`);
  await db.query(`INSERT INTO checkout_sessions (stripe_checkout_session_id, user_id, purchase_link_id, idempotency_key, amount_total,
                                                 currency, status, outcome, payment_status, stripe_payment_intent_id)
                  SELECT $1, $2::uuid, id, 'checkout:' || gen_random_uuid(), 900, 'eur', 'complete', 'paid', 'paid', $3 FROM purchase_links WHERE slug = 'priv'`,
                 [cs, p.id, pi]);
  await db.query(`INSERT INTO payments (checkout_session_id, subject_surrogate, stripe_payment_intent_id, user_id, amount, currency, livemode, status, paid_at)
                  SELECT id, subject_surrogate, $2, user_id, 900, 'eur', false, 'paid', now() FROM checkout_sessions WHERE stripe_checkout_session_id = $1`,
                 [cs, pi]);
  const payload = { id: `evt_priv_${p.id.slice(0, 8)}`, object: 'event', type: 'checkout.session.completed', livemode: false,
                    data: { object: { id: cs, object: 'checkout.session', client_reference_id: p.id, payment_intent: pi,
                                      customer_details: { email: p.email, name: 'Buyer Name' }, metadata: { purchase_link: 'priv' } } } };
  await db.query(`INSERT INTO stripe_events (stripe_event_id, type, livemode, object_id, payload, status, processed_at)
                  VALUES ($1, 'checkout.session.completed', false, $2, $3, 'processed', now())`, [payload.id, cs, payload]);
  const echo = await call(server, 'POST', '/v1/echoes', { token: p.token, body: { reading_id: p.reading, scheduled_for: new Date(Date.now() + 86400e3).toISOString() } });
  assert.ok([201, 202].includes(echo.status), echo.text);
  return p;
}

test('an export holds everything about the person, is written by the worker and opens only for them', async () => {
  const p = await populatedPerson('exported');
  const other = await createPerson(db, 'other');
  const before = Number((await db.query('SELECT count(*) FROM data_exports')).rows[0].count);
  assert.equal((await call(server, 'POST', '/v1/privacy/export', { token: p.token, body: { user_id: other.id } })).status, 422);
  assert.equal((await call(server, 'POST', '/v1/privacy/export', { body: {} })).status, 401);
  assert.equal(Number((await db.query('SELECT count(*) FROM data_exports')).rows[0].count), before, 'a refused request writes nothing');

  const res = await call(server, 'POST', '/v1/privacy/export', { token: p.token, body: {} });
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.status, 'requested');
  assert.ok(new Date(res.json.due_at) > new Date(Date.now() + 27 * 86400e3), 'due within the legal month');
  const again = await call(server, 'POST', '/v1/privacy/export', { token: p.token, body: {} });
  assert.equal(again.json.id, res.json.id, 'one export in the making at a time');
  const early = await call(server, 'GET', `/v1/privacy/requests/${res.json.id}/archive`, { token: p.token });
  assert.equal(early.status, 404, `not ready yet: ${early.text} ${server.stderr.slice(-1500)}`);

  await drain();
  const status = await call(server, 'GET', `/v1/privacy/requests/${res.json.id}`, { token: p.token });
  assert.equal(status.status, 200, status.text);
  assert.equal(status.json.status, 'ready');
  assert.ok(new Date(status.json.expires_at) > new Date(), 'the link expires later');
  const hidden = await call(server, 'GET', `/v1/privacy/requests/${res.json.id}`, { token: other.token });
  assert.equal(hidden.status, 404, hidden.text);
  assert.equal((await call(server, 'GET', `/v1/privacy/requests/${res.json.id}/archive`, { token: other.token })).status, 404);

  const file = await call(server, 'GET', status.json.archive_url, { token: p.token });
  assert.equal(file.status, 200);
  assert.equal(createHash('sha256').update(file.text).digest('hex'), status.json.sha256);
  const archive = JSON.parse(file.text);
  assert.equal(archive.subject, p.id);
  assert.equal(archive.account.email, p.email);
  assert.equal(archive.tables['public.readings'][0].question, p.texts.question);
  assert.equal(archive.tables['public.gift_recipients'][0].email, p.texts.gift.email);
  assert.equal(archive.tables['public.payments'].length, 1);
  assert.equal(archive.tables['public.checkout_sessions'].length, 1);
  assert.equal(archive.tables['public.stripe_events'].length, 1);
  assert.ok(archive.tables['public.delivery_jobs'].length >= 3, 'delivery history');
  assert.equal(archive.tables['scrollkeep.entitlement_changes'].length, 0, 'the ledgers that reach the person');
  assert.equal(archive.tables['public.consent_events'].length, 4);
  assert.equal(archive.consent_receipts.length, 4);
  const receipt = archive.consent_receipts[0];
  for (const k of ['receipt_id', 'jurisdiction', 'collection_method', 'caused_by', 'consent_timestamp']) assert.ok(receipt[k], k);
  assert.match(receipt.notice.sha256, /^[0-9a-f]{64}$/);
  assert.ok(receipt.notice.version && receipt.notice.language);
  assert.ok(receipt.services[0].purposes[0].valid_from);
  assert.equal(archive.classification['public.readings.question'], 'private');
  const pdf = archive.files.find((f) => f.path === p.pdf);
  assert.ok(pdf, 'the artifact files themselves');
  const bytes = Buffer.from(pdf.content_base64url, 'base64url');
  assert.equal(bytes.subarray(0, 5).toString(), '%PDF-');
  assert.equal(createHash('sha256').update(bytes).digest('hex'), pdf.sha256);
  assert.ok(!JSON.stringify(archive).includes(other.id), 'nothing of another person');

  const out = path.join(store, '..', `export-${p.id}.json`);
  const cli = await runCli(['privacy', 'export', p.id, '--out', out], { env });
  assert.equal(cli.code, 0, cli.stderr);
  const viaCli = JSON.parse(fs.readFileSync(out, 'utf8'));
  fs.rmSync(out);
  assert.equal(viaCli.tables['public.readings'][0].answer, p.texts.answer);
  assert.equal((await runCli(['privacy', 'export', p.id], { env })).code, 2, '--out is required');
  assert.equal((await runCli(['privacy', 'export', 'not-a-uuid', '--out', out], { env })).code, 2);
});

test('every table holding personal data is reachable from the person, or the check names it', async () => {
  const uncovered = `SELECT table_schema || '.' || table_name AS t FROM scrollkeep.personal_tables
                      WHERE scrollkeep.subject_rows(table_schema, table_name) IS NULL
                        AND (table_schema, table_name) <> ('scrollkeep', 'erasure_probes')`;
  assert.deepEqual((await db.query(uncovered)).rows, []);
  try {
    await db.query(`CREATE TABLE public.new_notes (id int, note text)`);
    await db.query(`COMMENT ON COLUMN public.new_notes.note IS 'private: a note someone forgot to link'`);
    assert.deepEqual((await db.query(uncovered)).rows, [{ t: 'public.new_notes' }]);
  } finally {
    await db.query('DROP TABLE IF EXISTS public.new_notes');
  }
});

test('a deletion request can be cancelled during its grace period', async () => {
  const graceEnv = { ...env, SCROLLKEEP_DELETION_GRACE_HOURS: '24' };
  const s = await startServer(graceEnv);
  try {
    const p = await createPerson(db, 'hesitant');
    assert.equal((await call(s, 'POST', '/v1/privacy/deletion', { token: p.token, body: { now: true } })).status, 422);
    assert.equal((await db.query('SELECT count(*) FROM deletion_requests WHERE user_id = $1', [p.id])).rows[0].count, '0',
                 'a refused request writes nothing');
    const res = await call(s, 'POST', '/v1/privacy/deletion', { token: p.token, body: {} });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.json.status, 'scheduled');
    assert.ok(new Date(res.json.grace_until) > new Date(Date.now() + 23 * 3600e3));
    const { rows: [job] } = await db.query(`SELECT status, next_run_at FROM delivery_jobs WHERE idempotency_key = $1`, [`privacy-deletion:${res.json.id}`]);
    assert.equal(job.status, 'queued');
    assert.ok(new Date(job.next_run_at) > new Date(Date.now() + 23 * 3600e3), 'runs after the grace period');
    const other = await createPerson(db, 'intruder');
    assert.equal((await call(s, 'POST', `/v1/privacy/requests/${res.json.id}/cancel`, { token: other.token })).status, 404);
    const cancel = await call(s, 'POST', `/v1/privacy/requests/${res.json.id}/cancel`, { token: p.token });
    assert.equal(cancel.status, 200, cancel.text);
    assert.equal(cancel.json.status, 'cancelled');
    assert.equal((await db.query(`SELECT status FROM delivery_jobs WHERE idempotency_key = $1`, [`privacy-deletion:${res.json.id}`])).rows[0].status, 'cancelled');
    assert.equal((await call(s, 'POST', `/v1/privacy/requests/${res.json.id}/cancel`, { token: p.token })).status, 409);
    assert.equal((await db.query('SELECT count(*) FROM auth.users WHERE id = $1', [p.id])).rows[0].count, '1', 'still here');
  } finally {
    await s.stop();
  }
});

test('an extension moves the due date by up to two months, with the reason the person sees', async () => {
  const p = await createPerson(db, 'complex');
  const { rows: [req] } = await db.query(`SELECT (r).id, (r).due_at FROM (SELECT scrollkeep.request_deletion($1, 'support', '1 day') r) x`, [p.id]);
  const due = () => db.query('SELECT coalesce(extended_due_at, due_at) AS d, extension_reason FROM deletion_requests WHERE id = $1', [req.id]).then((r) => r.rows[0]);
  const tooLate = new Date(req.due_at.getTime() + 70 * 86400e3).toISOString();
  const refused = await runCli(['privacy', 'extend', req.id, '--until', tooLate, '--reason', 'many systems to search'], { env });
  assert.equal(refused.code, 1, refused.stdout);
  assert.equal((await due()).extension_reason, null, 'nothing written');
  const address = await runCli(['privacy', 'extend', req.id, '--until', new Date(req.due_at.getTime() + 86400e3).toISOString(),
                                '--reason', 'asked ops@example.test'], { env });
  assert.equal(address.code, 1);
  assert.equal((await runCli(['privacy', 'extend', req.id, '--until', tooLate], { env })).code, 2, 'a reason is required');
  const until = new Date(req.due_at.getTime() + 40 * 86400e3);
  const ok = await runCli(['privacy', 'extend', req.id, '--until', until.toISOString(), '--reason', 'the request spans several systems'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await due()).d.getTime(), until.getTime());
  const seen = await call(server, 'GET', `/v1/privacy/requests/${req.id}`, { token: p.token });
  assert.equal(seen.status, 200, seen.text);
  assert.equal(seen.json.extended, true);
  assert.equal(seen.json.extension_reason, 'the request spans several systems');
  assert.equal(new Date(seen.json.due_at).getTime(), until.getTime());
});

/** Whether any text, JSON or uuid column anywhere (or any stored file) still holds s. */
async function foundAnywhere(s) {
  const { rows } = await db.query('SELECT * FROM scrollkeep.erasure_scan(ARRAY[$1])', [s]);
  return rows.map((r) => `${r.table_schema}.${r.table_name}.${r.column_name}`);
}

test('forgetting a person leaves zero hits, keeps the payment pseudonymized and proves it in the audit chain', async () => {
  const p = await populatedPerson('forgotten');
  const { rows: [pay] } = await db.query('SELECT id, subject_surrogate FROM payments WHERE user_id = $1', [p.id]);
  const proofBefore = await runCli(['privacy', 'proof', p.id], { env });
  assert.equal(proofBefore.code, 1, `the person is still everywhere: ${proofBefore.stderr}`);
  assert.ok(proofBefore.stdout, proofBefore.stderr);
  const found = JSON.parse(proofBefore.stdout);
  assert.ok(found.hits > 5);
  assert.ok(found.locations.some((l) => l.table === 'public.readings' && l.column === 'question'));
  assert.ok(!proofBefore.stdout.includes(p.texts.question) && !proofBefore.stdout.includes(p.email), 'counts and locations only');

  const run = await runCli(['privacy', 'forget', p.id], { env });
  assert.equal(run.code, 0, run.stderr + run.stdout);
  const done = JSON.parse(run.stdout);
  assert.equal(done.status, 'completed');
  assert.equal(done.step, 'proved');
  const report = done.report;
  assert.equal(report.hits, 0);
  assert.deepEqual(report.locations, []);
  assert.ok(report.files_scanned >= 1);
  assert.equal(report.counts.anonymized.readings, 1);
  assert.equal(report.counts.pseudonymized.payments, 1);
  assert.equal(report.counts.deleted.gift_recipients, 1);
  assert.equal(report.counts.deleted.consent_events, 4);
  assert.ok(report.counts.deleted.artifact_files >= 1);
  assert.ok(report.counts.cancelled.delivery_jobs >= 1, 'the queued echo');
  assert.equal(report.counts.redacted.stripe_events, 1);
  assert.ok(report.retained.some((r) => /tax and accounting/.test(r.why)));
  assert.match(report.backups_clear_on, /^\d{4}-\d{2}-\d{2}$/);
  assert.ok(Number.isInteger(report.dead_rows_awaiting_vacuum));
  const text = JSON.stringify(done);
  for (const s of [p.id, p.email, p.texts.question, p.texts.answer, p.texts.gift.email, p.texts.gift.name]) assert.ok(!text.includes(s), 'the report names no identifier');

  for (const s of [p.id, p.email, p.texts.question, p.texts.answer, p.texts.gift.email, p.texts.gift.name]) assert.deepEqual(await foundAnywhere(s), [], s);
  assert.equal((await db.query('SELECT count(*) FROM auth.users WHERE id = $1', [p.id])).rows[0].count, '0');
  const { rows: [reading] } = await db.query('SELECT user_id, question, anonymized_at, public_title FROM readings WHERE id = $1', [p.reading]);
  assert.ok(reading.anonymized_at && reading.user_id === null && reading.question === null && reading.public_title, 'the scroll is remembered');
  const { rows: [kept] } = await db.query('SELECT user_id, subject_surrogate, amount FROM payments WHERE id = $1', [pay.id]);
  assert.deepEqual(kept, { user_id: null, subject_surrogate: pay.subject_surrogate, amount: '900' });
  const { rows: [evt] } = await db.query(`SELECT payload::text AS t, redacted_at FROM stripe_events WHERE stripe_event_id = $1`, [`evt_priv_${p.id.slice(0, 8)}`]);
  assert.ok(evt.redacted_at && !evt.t.includes('Buyer Name') && !evt.t.includes(p.email));
  assert.equal(fs.existsSync(path.join(store, p.pdf)), false, 'the artifact file is gone');
  assert.equal((await db.query('SELECT count(*) FROM scrollkeep.erasure_probes')).rows[0].count, '0', 'the probes went with the proof');

  const { rows: [tomb] } = await db.query('SELECT t.* FROM erasure_tombstones t JOIN deletion_requests d ON d.id = t.deletion_request_id WHERE d.id = $1', [done.id]);
  assert.match(tomb.subject_hmac, /^[0-9a-f]{64}$/);
  assert.equal(tomb.key_id, 'erasure-key');
  await db.query('SELECT scrollkeep.audit_flush(1000)');
  const { rows: [audit] } = await db.query(`SELECT details FROM admin_audit_events WHERE action = 'privacy.erasure_proved' AND subject_id = $1`, [done.id]);
  assert.equal(audit.details.report_sha256, done.report_sha256);
  const { rows: [stored] } = await db.query('SELECT report::text AS r FROM deletion_requests WHERE id = $1', [done.id]);
  const canonical = JSON.stringify(sortKeys(JSON.parse(stored.r)));
  assert.equal(createHash('sha256').update(canonical).digest('hex'), done.report_sha256, 'the hash is of the stored report');
  assert.equal((await runCli(['audit', 'verify'], { env })).code, 0, 'the chain holds');

  const proofAfter = await runCli(['privacy', 'proof', p.id], { env });
  assert.equal(proofAfter.code, 0, proofAfter.stdout);
  const after = JSON.parse(proofAfter.stdout);
  assert.equal(after.hits, 0);
  assert.equal(after.erasure.report_sha256, done.report_sha256, 'the tombstone finds the stored proof');
  assert.equal((await runCli(['privacy', 'forget', p.id], { env })).code, 1, 'no one left to forget');

  // A restore from a backup taken before the deletion brings the person back; the tombstones
  // forget them again.
  await db.query('INSERT INTO auth.users (id, email) VALUES ($1, $2)', [p.id, p.email]);
  const back = await call(server, 'POST', '/v1/readings', { token: p.token, body: readingBody({ question: p.texts.question, answer: p.texts.answer }) });
  assert.equal(back.status, 201, back.text);
  const reapply = await runCli(['privacy', 'reapply'], { env });
  assert.equal(reapply.code, 0, reapply.stderr);
  assert.match(reapply.stdout, /1 forgotten again, 0 still found/);
  for (const s of [p.id, p.email, p.texts.question]) assert.deepEqual(await foundAnywhere(s), [], s);
  assert.match((await runCli(['privacy', 'reapply'], { env })).stdout, /0 forgotten again/, 'no one else');
  const wrongKey = await runCli(['privacy', 'reapply'], { env: { ...env, SCROLLKEEP_ERASURE_KEY: 'another-key-entirely-0123456789' } });
  assert.match(wrongKey.stdout, /0 forgotten again/, 'the hash is keyed: another key finds no one');
});

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

test('a deletion stopped between steps resumes in the worker and completes', async () => {
  const p = await populatedPerson('interrupted');
  const { rows: [req] } = await db.query(`SELECT (r).id FROM (SELECT scrollkeep.request_deletion($1, 'support', '0') r) x`, [p.id]);
  // Three steps done, then the process died: each step committed on its own.
  for (let i = 0; i < 3; i++) await db.query('SELECT scrollkeep.forget_step($1, NULL, NULL)', [req.id]);
  assert.equal((await db.query('SELECT step, status FROM deletion_requests WHERE id = $1', [req.id])).rows[0].step, 'content_deleted');
  const w = await drain();
  const { rows: [r] } = await db.query('SELECT status, step, report FROM deletion_requests WHERE id = $1', [req.id]);
  assert.equal(r.status, 'completed', w.stderr + JSON.stringify(r.report));
  assert.equal(r.report.hits, 0);
  assert.equal(r.report.counts.anonymized.readings, 1, 'the counts of the steps before the crash are kept');
  for (const s of [p.id, p.email, p.texts.question]) assert.deepEqual(await foundAnywhere(s), [], s);
  const { rows: [job] } = await db.query(`SELECT status FROM delivery_jobs WHERE idempotency_key = $1`, [`privacy-deletion:${req.id}`]);
  assert.equal(job.status, 'succeeded');
});
