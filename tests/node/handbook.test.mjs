// docs/operator-handbook.md, exercised: each failure it describes is made to happen on a real
// database (a webhook stored while the worker was down, a receipt refused by the SMTP server,
// an e-mail of unknown fate, a lost artifact file, a person's data request, a restore), the
// verify check the handbook names is shown to find it, the handbook's own sh block is run
// verbatim with bash -e, and verify is clean after it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, env as harness, runCli, startServer, startWorker, tempDir } from './lib/harness.mjs';
import { call, createPerson, grant, readingBody } from './lib/people.mjs';
import { startSmtp } from './lib/smtp.mjs';
import { deliver, event, sessionObject, startStripe, WEBHOOK_SECRET } from './lib/stripe.mjs';

const handbook = fs.readFileSync(path.join(harness.root, 'docs', 'operator-handbook.md'), 'utf8');
const work = tempDir('sk-handbook-');
const bin = path.join(work, 'bin');
const store = path.join(work, 'store');
const backupDir = path.join(work, 'backup');

let db;
let restoreDb;
let env;
let server;
let stripeApi;
let smtp;
let buyer;

/** The sh block after <!-- handbook:name -->, and the section it belongs to. */
function procedure(name) {
  const at = handbook.indexOf(`<!-- handbook:${name} -->`);
  assert.ok(at >= 0, `the handbook has no procedure ${name}`);
  const block = handbook.slice(at).match(/```sh\n([\s\S]*?)```/);
  const section = handbook.slice(handbook.lastIndexOf('\n## ', at), at);
  return { script: block[1], section };
}

/** Run a procedure's block with bash -e, scrollkeep on PATH, the placeholders in the env. */
function runProcedure(name, vars = {}) {
  const { script, section } = procedure(name);
  return new Promise((resolve) => {
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], {
      env: { ...env, ...vars, PATH: `${bin}:${env.PATH}` }, cwd: work,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr, section }));
  });
}

/** What verify finds, by check: {name: ["problem id", …]}. */
async function findings(e = env) {
  const run = await runCli(['verify', '--json'], { env: e });
  return Object.fromEntries(JSON.parse(run.stdout).checks.filter((c) => c.items.length)
    .map((c) => [c.name, c.items.map((i) => `${i.problem} ${i.id}`)]));
}

async function expectRepaired(name, vars) {
  const run = await runProcedure(name, vars);
  assert.equal(run.code, 0, `${name}: ${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /verify: 0 findings|0 findings/, run.stdout);
  assert.deepEqual(await findings(), {});
  return run;
}

async function drain() {
  const w = startWorker(env, ['--once']);
  assert.equal((await w.exited).code, 0);
}

/** A new buyer pays for the council link; returns the completion event (not yet delivered). */
async function purchase() {
  const buyer = await createPerson(db, 'buyer');
  await grant(server, buyer, 'email_delivery');
  const res = await call(server, 'POST', '/v1/checkout', { token: buyer.token, body: { slug: 'handbook-council' } });
  assert.ok([200, 201].includes(res.status), res.text);
  const session = stripeApi.complete(res.json.checkout_session_id);
  return event('checkout.session.completed', sessionObject(session));
}


before(async () => {
  fs.mkdirSync(bin);
  fs.symlinkSync(harness.bin, path.join(bin, 'scrollkeep'));
  db = await createDatabase();
  restoreDb = await createDatabase({ empty: true });
  stripeApi = await startStripe({ price_hb: { unit_amount: 900, currency: 'eur' } });
  smtp = await startSmtp();
  env = baseEnv(db, {
    STRIPE_API_BASE: stripeApi.url, STRIPE_SECRET_KEY: 'sk_test_shop', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    ARTIFACT_DIR: store, SMTP_URL: smtp.url, MAIL_FROM: 'The Oracle <oracle@scrollkeep.test>', SCROLLKEEP_OPERATOR: 'ops-handbook',
  });
  server = await startServer(env);
  const catalog = {
    products: [{ stripe_product_id: 'prod_hb', code: 'hb_council', layer: 'council', name: 'The Council',
                 prices: [{ stripe_price_id: 'price_hb', currency: 'eur', unit_amount: 900 }] }],
    purchase_links: [{ slug: 'handbook-council', price: 'price_hb', unlock_route: '/council', channels: ['receipt'] }],
  };
  const file = path.join(work, 'catalog.json');
  fs.writeFileSync(file, JSON.stringify(catalog));
  assert.equal((await runCli(['shop', 'import', file], { env })).code, 0);
  buyer = await createPerson(db, 'buyer');
  await grant(server, buyer, 'email_delivery');
});
after(async () => {
  await server?.stop();
  await stripeApi?.stop();
  await smtp?.stop?.();
  await db?.drop();
  await restoreDb?.drop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('every procedure names the verify check that shows its failure', () => {
  const checks = {
    webhook_stuck: ['stripe_event_stuck'], payment_undelivered: ['undelivered_purchase', 'lost_delivery'],
    email_unknown: ['lost_delivery'], artifact_lost: ['orphan_artifact'], data_request: ['privacy_deadline'], restore: ['verify'],
  };
  for (const [name, names] of Object.entries(checks)) {
    const { section, script } = procedure(name);
    for (const c of names) assert.ok(section.includes(`\`${c}\``) || section.includes(c), `${name} names ${c}`);
    assert.ok(script.trim().length > 0);
  }
});

test('a webhook stored while the worker was down: replay, deliver, clean', async () => {
  const completed = await purchase();
  const res = await deliver(server, completed);
  assert.equal(res.status, 200);
  await db.query(`UPDATE stripe_events SET first_received_at = now() - interval '20 minutes' WHERE stripe_event_id = $1`, [completed.id]);
  assert.deepEqual((await findings()).stripe_event_stuck, [`received stripe_event:${completed.id}`]);

  await expectRepaired('webhook_stuck');
  const { rows: [p] } = await db.query(
    `SELECT count(*)::int AS n FROM entitlements e JOIN payments p ON p.id = e.payment_id
      JOIN checkout_sessions cs ON cs.id = p.checkout_session_id WHERE cs.stripe_checkout_session_id = $1 AND e.status = 'active'`,
    [completed.data.object.id]);
  assert.equal(p.n, 1, 'the payment unlocked');
});

test('a receipt refused for good: found, retried after the fix, delivered once', async () => {
  const completed = await purchase();
  smtp.refuse = { code: 550, times: -1, text: 'relay denied' };
  assert.equal((await deliver(server, completed)).status, 200);
  await drain(); // processes the event; the receipt is refused for good
  await drain();
  smtp.refuse = null;
  const { rows: [job] } = await db.query(
    `SELECT j.id, j.support_ref, p.id AS payment FROM delivery_jobs j JOIN payments p ON j.idempotency_key = 'receipt:' || p.id
      WHERE p.checkout_session_id = (SELECT id FROM checkout_sessions WHERE stripe_checkout_session_id = $1) AND j.status = 'dead'`,
    [completed.data.object.id]);
  assert.ok(job, 'the receipt job died');
  await db.query(`SET session_replication_role = replica; UPDATE payments SET paid_at = now() - interval '2 hours' WHERE id = '${job.payment}'; SET session_replication_role = origin;`);
  const found = await findings();
  assert.deepEqual(found.undelivered_purchase, [`receipt_dead payment:${job.payment}`]);
  assert.deepEqual(found.lost_delivery, [`dead job:${job.id}`]);

  const before = smtp.received.length;
  const run = await expectRepaired('payment_undelivered', { JOB_REF: job.support_ref });
  assert.ok(run.stdout.includes(job.support_ref), 'the list printed the reference the next commands use');
  assert.match(run.stdout, /relay denied/, 'show printed why the attempt failed');
  assert.equal(smtp.received.length, before + 1, 'delivered, once');
  const { rows: [audit] } = await db.query(`SELECT actor, reason FROM admin_audit_events WHERE action = 'job.retry' ORDER BY chain_seq DESC LIMIT 1`);
  assert.deepEqual(audit, { actor: 'ops-handbook', reason: 'smtp relay fixed' });
});

test('an e-mail whose fate is unknown: read, settled by cancel, clean', async () => {
  const res = await call(server, 'POST', '/v1/echoes', { token: buyer.token, body: {
    reading_id: (await call(server, 'POST', '/v1/readings', { token: buyer.token, body: readingBody() })).json.id,
    scheduled_for: new Date(Date.now() + 86400e3).toISOString() } });
  assert.equal(res.status, 201, res.text);
  // As the worker leaves it when the connection breaks after the message was handed over.
  await db.query(`UPDATE delivery_jobs SET status = 'unknown', last_error = 'connection lost after DATA' WHERE id = $1`, [res.json.job.id]);
  assert.deepEqual((await findings()).lost_delivery, [`unknown job:${res.json.job.id}`]);
  const run = await expectRepaired('email_unknown', { JOB_REF: res.json.job.support_ref });
  assert.ok(run.stdout.includes(res.json.job.support_ref));
  const { rows: [j] } = await db.query('SELECT status FROM delivery_jobs WHERE id = $1', [res.json.job.id]);
  assert.equal(j.status, 'cancelled');
});

test('an artifact file lost: copied back from the backup, clean; then a restore of that backup', async () => {
  const reading = (await call(server, 'POST', '/v1/readings', { token: buyer.token, body: readingBody() })).json.id;
  const art = await call(server, 'POST', `/v1/readings/${reading}/artifacts`, { token: buyer.token, body: { kind: 'pdf' } });
  assert.equal(art.status, 202, art.text);
  await drain();
  const backup = await runCli(['backup', '--out', backupDir], { env });
  assert.equal(backup.code, 0, backup.stderr);
  const { rows: [row] } = await db.query('SELECT storage_path FROM oracle_artifacts WHERE id = $1', [art.json.id]);
  fs.rmSync(path.join(store, row.storage_path));
  assert.deepEqual((await findings()).orphan_artifact, [`missing ${art.json.id}`]);

  await expectRepaired('artifact_lost', { BACKUP_DIR: backupDir, ARTIFACT_DIR: store });
  const file = await call(server, 'GET', `/v1/artifacts/${art.json.id}/file`, { token: buyer.token });
  assert.equal(file.status, 200);

  const restored = path.join(work, 'restored-store');
  const run = await runProcedure('restore', { BACKUP_DIR: backupDir, RESTORE_URL: restoreDb.url, RESTORE_ARTIFACTS: restored });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /0 findings/);
  assert.ok(fs.existsSync(path.join(restored, row.storage_path)), 'the files came with it');
});

test('a data request by mail: exported, forgotten, proved, clean', async () => {
  const person = await createPerson(db, 'asks');
  await grant(server, person, 'email_delivery');
  await call(server, 'POST', '/v1/readings', { token: person.token, body: readingBody({ question: 'Where did the heron go this autumn?', answer: 'The Moon: it follows the river south, and returns with the thaw.' }) });
  const run = await expectRepaired('data_request', { USER_ID: person.id, WORK: work });
  const archive = JSON.parse(fs.readFileSync(path.join(work, 'export.json'), 'utf8'));
  assert.ok(JSON.stringify(archive).includes('Where did the heron go'), 'the export holds their words');
  assert.match(run.stdout, /"hits": 0/, 'the proof finds nothing');
  const { rows: [u] } = await db.query('SELECT count(*)::int AS n FROM auth.users WHERE id = $1', [person.id]);
  assert.equal(u.n, 0);
});
