// Data-subject requests and their legal deadlines: `scrollkeep verify` lists, and `doctor`
// counts, every deletion or export still owed that is past its due date (an extension with its
// reason moves it) or due within a week; what is done, refused, cancelled or far off is not.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, runCli } from './lib/harness.mjs';

let db;
before(async () => { db = await createDatabase(); });
after(async () => { await db?.drop(); });

/** A deletion request made `ago` days ago, due a month after it; columns as given. */
async function deletion(ago, extra = {}) {
  const user = randomUUID();
  await db.query(`INSERT INTO auth.users (id, email) VALUES ($1::uuid, $1::text || '@privacy.test')`, [user]);
  const cols = { status: 'requested', ...extra };
  const names = Object.keys(cols);
  const { rows: [r] } = await db.query(
    `INSERT INTO deletion_requests (user_id, source, requested_at, due_at, ${names.join(', ')})
     VALUES ($1, 'api', now() - make_interval(days => $2), now() - make_interval(days => $2) + interval '30 days',
             ${names.map((_, i) => `$${i + 3}`).join(', ')})
     RETURNING id, to_char(coalesce(extended_due_at, due_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS due`,
    [user, ago, ...Object.values(cols)]);
  return r;
}

test('verify and doctor flag the requests that are overdue or due within a week, and only those', async () => {
  const clean = await runCli(['verify'], { env: baseEnv(db) });
  assert.equal(clean.code, 0, clean.stdout);
  assert.match(clean.stdout, /^ok\s+privacy_deadline\s+0$/m);
  assert.match((await runCli(['doctor'], { env: baseEnv(db) })).stdout, /ok\s+privacy\s+deadlines\s+no request overdue/);

  const overdue = await deletion(35);
  const soon = await deletion(27, { status: 'verified', verified_at: new Date() });
  await deletion(10); // due in 20 days
  await deletion(35, { status: 'completed', completed_at: new Date() });
  await deletion(35, { status: 'rejected', reject_reason: 'identity not confirmed' });
  await deletion(35, { extended_due_at: new Date(Date.now() + 40 * 86400e3), extension_reason: 'a complex request, told to the person' });
  const user = randomUUID();
  await db.query(`INSERT INTO auth.users (id, email) VALUES ($1::uuid, $1::text || '@privacy.test')`, [user]);
  const { rows: [exp] } = await db.query(
    `INSERT INTO data_exports (user_id, source, requested_at, due_at, status)
     VALUES ($1, 'api', now() - interval '40 days', now() - interval '10 days', 'failed') RETURNING id`, [user]);

  const found = await runCli(['verify', '--json'], { env: baseEnv(db) });
  assert.equal(found.code, 1);
  const items = JSON.parse(found.stdout).checks.find((c) => c.name === 'privacy_deadline').items;
  assert.deepEqual(items.map((i) => [i.problem, i.id]), [
    ['overdue', `data_export:${exp.id}`],
    ['overdue', `deletion_request:${overdue.id}`],
    ['due_soon', `deletion_request:${soon.id}`],
  ]);
  assert.equal(items[1].due, overdue.due);
  const text = await runCli(['verify'], { env: baseEnv(db) });
  assert.match(text.stdout, /^FINDING privacy_deadline\s+3$/m);
  assert.ok(!text.stdout.includes('@'), 'ids only, never an address');

  const doctor = await runCli(['doctor'], { env: baseEnv(db) });
  assert.equal(doctor.code, 1);
  assert.match(doctor.stdout, /FINDING privacy deadlines: 2 requests overdue, 1 due within 7 days: run scrollkeep verify/);
});
