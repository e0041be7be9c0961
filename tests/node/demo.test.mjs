// `scrollkeep demo`: a synthetic person walked through the whole product on a running server
// and worker — consent, a sealed reading, a purchase through a signed webhook, the jobs that
// render and deliver (the receipt lands in the maildir), an export, a deletion and its proof —
// each step printed with the rows, jobs and audit events it made; nothing of the person is
// left, the payment survives pseudonymized, and verify is clean after.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, runCli, startServer, startWorker, tempDir } from './lib/harness.mjs';

let db;
let env;
let server;
let worker;
const work = tempDir('sk-demo-');

before(async () => {
  db = await createDatabase();
  env = baseEnv(db, { STRIPE_WEBHOOK_SECRET: 'whsec_demo_0123456789abcdef', ARTIFACT_DIR: path.join(work, 'store'),
                      SCROLLKEEP_MAILDIR: path.join(work, 'mail') });
  server = await startServer(env);
  worker = startWorker(env);
});
after(async () => {
  await worker?.stop();
  await server?.stop();
  await db?.drop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('the demo walks a synthetic person through the product and leaves the trail', async () => {
  const run = await runCli(['demo', '--server', server.url, '--wait', '60'], { env });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const out = run.stdout;
  for (const step of ['1. The demo catalog', '2. A synthetic person', '3. Consent', '4. A sealed reading', '5. A purchase',
                      '6. The worker processes', '7. An export', '8. A deletion']) {
    assert.ok(out.includes(step), `${step} in\n${out}`);
  }
  assert.match(out, /rows: \+1 readings, \+1 passport_stamps|rows:.*\+1 readings/);
  assert.match(out, /job receipt_email_job\s+succeeded\s+SK-/);
  assert.match(out, /job pdf_render_job\s+succeeded/);
  assert.match(out, /audit #\d+ payment\.\w+/, 'the payment is in the operator\'s trail');
  assert.match(out, /8\. A deletion [0-9a-f-]{36} and its proof: 0 hits/);
  assert.ok(!out.includes('@demo.invalid'), 'the address is never printed');

  // The receipt landed in the maildir; the person is gone; the payment stays pseudonymized.
  const mail = fs.readdirSync(path.join(work, 'mail', 'new'));
  assert.ok(mail.length >= 1, 'the receipt is in the maildir');
  const { rows: [left] } = await db.query(`SELECT count(*)::int AS n FROM auth.users WHERE email LIKE 'demo-%@demo.invalid'`);
  assert.equal(left.n, 0);
  const { rows: [paid] } = await db.query(`SELECT user_id, subject_surrogate FROM payments`);
  assert.equal(paid.user_id, null);
  assert.ok(paid.subject_surrogate);
  const verify = await runCli(['verify'], { env });
  assert.equal(verify.code, 0, verify.stdout);

  // The lab shows the live trail.
  const lab = JSON.parse((await runCli(['lab', '--layer', 'shop', '--json'], { env })).stdout);
  assert.ok(lab.jobs.find((j) => j.kind === 'receipt_email_job'));
});

test('without a server the demo says what to start', async () => {
  const run = await runCli(['demo', '--server', 'http://127.0.0.1:9'], { env });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /no scrollkeep server answers there: start `make run` first/);
});
