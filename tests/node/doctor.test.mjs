// `scrollkeep doctor`: clean on a correctly migrated database that has been backed up and
// drilled; every environment problem, every security lint and every launch criterion found,
// one FINDING line each, exit 1; values never printed; the scorecard and the completion plan
// follow from the failing criteria; and the exposed schemas read the way Supabase sets them
// (pgrst.db_schemas on authenticator).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, databaseUrl, privateCluster, runCli, superuser, tempDir } from './lib/harness.mjs';
import { enqueue } from './lib/queue.mjs';

let db;
let copy;
let store;
const launchEnv = (d, extra = {}) => baseEnv(d, { ARTIFACT_DIR: store, ...extra });

/** Back d up and drill a restore of it: what a deployment does before launch. */
async function backupAndDrill(d) {
  const dir = path.join(tempDir('sk-doctor-'), 'b');
  const backup = await runCli(['backup', '--out', dir], { env: launchEnv(d) });
  assert.equal(backup.code, 0, backup.stderr);
  const drill = await runCli(['restore', '--drill', '--into', copy.url], { env: launchEnv(d) });
  assert.equal(drill.code, 0, drill.stderr + drill.stdout);
}

before(async () => {
  store = tempDir('sk-doctor-store-');
  db = await createDatabase();
  copy = await createDatabase({ empty: true });
  await backupAndDrill(db);
});
after(async () => {
  await db?.drop();
  await copy?.drop();
});

const findings = (out) => out.split('\n').filter((l) => l.startsWith('FINDING '));

test('doctor is clean on a migrated, backed-up and drilled database with the required environment', async () => {
  const env = launchEnv(db);
  const run = await runCli(['doctor'], { env });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.deepEqual(findings(run.stdout), []);
  assert.match(run.stdout, /doctor: 0 findings/);
  assert.match(run.stdout, /ok\s+env\s+DATABASE_URL\s+set/);
  assert.match(run.stdout, /info\s+env\s+STRIPE_SECRET_KEY\s+missing/);
  assert.match(run.stdout, /ok\s+migrations\s+level\s+\d+ applied, none pending/);
  assert.match(run.stdout, /ok\s+lint\s+rls_disabled_in_public\s+clean/);
  assert.match(run.stdout, /exposed schemas\s+public/);
  assert.match(run.stdout, /scorecard: 12 of 12 criteria pass/);
  assert.match(run.stdout, /PASS\s+backups_recent\s+last backup \d{4}-\d\d-\d\d/);
  assert.match(run.stdout, /PASS\s+restore_drill_recent\s+last drill passed/);
  assert.match(run.stdout, /completion plan: nothing stands between this deployment and launch/);
  assert.ok(!run.stdout.includes(env.SUPABASE_JWT_SECRET), 'a secret is never printed');
});

test('a fresh deployment fails backups and the drill, and the plan says what to do', async () => {
  const fresh = await createDatabase();
  try {
    const run = await runCli(['doctor', '--json'], { env: launchEnv(fresh) });
    assert.equal(run.code, 1);
    const report = JSON.parse(run.stdout);
    const failing = report.scorecard.lines.filter((l) => !l.pass).map((l) => l.criterion);
    assert.deepEqual(failing, ['backups_recent', 'restore_drill_recent']);
    assert.equal(report.scorecard.passing, 10);
    assert.equal(report.findings, 2);
    assert.match(report.scorecard.lines.find((l) => l.criterion === 'backups_recent').evidence, /no backup recorded/);
    assert.deepEqual(report.completion_plan.map((p) => p.criterion), failing);
    assert.match(report.completion_plan[0].do, /scrollkeep backup --out DIR/);
    assert.match(report.completion_plan[1].do, /scrollkeep restore --drill/);
  } finally {
    await fresh.drop();
  }
});

test('each launch criterion fails on its own mistake, with the evidence to look at', async () => {
  const d = await createDatabase();
  try {
    await backupAndDrill(d);
    const dead = await enqueue(d, 'recovery_email_job');
    await d.query(`UPDATE delivery_jobs SET status = 'dead', finished_at = now() WHERE id = $1`, [dead]);
    // A configured secret's value (no known shape) copied into a column.
    const secret = 'configured-ai-key-0123456789abcdef';
    await d.query(`INSERT INTO products (stripe_product_id, code, layer, name) VALUES ('prod_Leak', 'leak', 'shop', $1)`, [`key ${secret}`]);
    await d.query('ALTER TABLE stripe_events DROP CONSTRAINT stripe_events_stripe_event_id_key');
    const run = await runCli(['doctor', '--json'], { env: launchEnv(d, { AI_API_KEY: secret }) });
    assert.equal(run.code, 1);
    assert.ok(!run.stdout.includes(secret), 'a secret is never printed');
    const report = JSON.parse(run.stdout);
    const line = (c) => report.scorecard.lines.find((l) => l.criterion === c);
    assert.deepEqual(report.scorecard.lines.filter((l) => !l.pass).map((l) => l.criterion),
      ['unique_keys', 'jobs_healthy', 'secrets_absent']);
    assert.match(line('unique_keys').evidence, /1 missing, first stripe_events\(stripe_event_id\)/);
    assert.match(line('jobs_healthy').evidence, new RegExp(`1 dead, 0 unknown, first job ${dead}: scrollkeep jobs show ${dead}`));
    assert.match(line('secrets_absent').evidence, /in 1 column, first public\.products\.name/);
    assert.equal(report.completion_plan.length, 3);
    // A Stripe key's shape is found without being configured.
    await d.query(`UPDATE products SET name = $1 WHERE code = 'leak'`, [`sk_live_${'x'.repeat(24)}`]);
    const again = JSON.parse((await runCli(['doctor', '--json'], { env: launchEnv(d) })).stdout);
    assert.equal(again.scorecard.lines.find((l) => l.criterion === 'secrets_absent').pass, false);
  } finally {
    await d.drop();
  }
});

test('missing and malformed variables are findings, named without their values', async () => {
  const env = launchEnv(db, { STRIPE_SECRET_KEY: 'pk_live_not_a_secret_key_123', SMTP_URL: 'mailto:ops' });
  delete env.NEXT_PUBLIC_SITE_URL;
  const run = await runCli(['doctor'], { env });
  assert.equal(run.code, 1);
  const f = findings(run.stdout);
  assert.ok(f.some((l) => /env NEXT_PUBLIC_SITE_URL: missing/.test(l)));
  assert.ok(f.some((l) => /env STRIPE_SECRET_KEY: set, but is not a Stripe secret key/.test(l)));
  assert.ok(f.some((l) => /env SMTP_URL: set, but is not an smtp:\/\/ or smtps:\/\/ URL/.test(l)));
  assert.equal(f.length, 3);
  assert.ok(!run.stdout.includes('pk_live_not_a_secret_key_123') && !run.stdout.includes('mailto:ops'));
});

test('a table without RLS readable by anon is found on the private cluster', async () => {
  await db.query('CREATE TABLE public.leaky_probe (id int); GRANT SELECT ON public.leaky_probe TO anon');
  try {
    const run = await runCli(['doctor'], { env: baseEnv(db) });
    assert.equal(run.code, 1);
    const f = findings(run.stdout);
    assert.ok(f.includes('FINDING lint rls_disabled_in_public: public.leaky_probe: row level security is off'), f.join('\n'));
    assert.ok(f.includes('FINDING lint anon_privileges: public.leaky_probe: anon holds privileges on it'), f.join('\n'));
  } finally {
    await db.query('DROP TABLE public.leaky_probe');
  }
});

test('every other lint of the security advisor fires on its own mistake', async () => {
  await db.query(`
    CREATE TABLE public.policy_no_rls (id int);
    CREATE POLICY p ON public.policy_no_rls FOR SELECT TO authenticated USING (true);
    CREATE TABLE public.rls_no_policy (id int);
    ALTER TABLE public.rls_no_policy ENABLE ROW LEVEL SECURITY;
    CREATE VIEW public.definer_view AS SELECT 1 AS one;
    CREATE FUNCTION scrollkeep.mutable_path() RETURNS int LANGUAGE sql AS 'SELECT 1';`);
  try {
    const run = await runCli(['doctor', '--json'], { env: baseEnv(db) });
    assert.equal(run.code, 1);
    const report = JSON.parse(run.stdout);
    const got = report.checks.filter((c) => c.status === 'finding').map((c) => `${c.name} ${c.detail}`);
    for (const want of [
      /^policy_exists_rls_disabled public\.policy_no_rls:/,
      /^rls_enabled_no_policy public\.rls_no_policy:/,
      /^security_definer_view public\.definer_view:/,
      /^function_search_path_mutable scrollkeep\.mutable_path\(\):/,
    ]) assert.ok(got.some((g) => want.test(g)), `${want} in ${got.join(' | ')}`);
    assert.equal(report.findings, got.length);
  } finally {
    await db.query(`
      DROP TABLE public.policy_no_rls; DROP TABLE public.rls_no_policy;
      DROP VIEW public.definer_view; DROP FUNCTION scrollkeep.mutable_path();`);
  }
});

test('the exposed schemas follow pgrst.db_schemas on authenticator, as on Supabase', async () => {
  const admin = await superuser();
  try {
    await admin.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator NOLOGIN NOINHERIT;
      END IF; END $$`);
    await admin.query(`ALTER ROLE authenticator IN DATABASE ${db.name} SET pgrst.db_schemas = 'api, public'`);
  } finally {
    await admin.end();
  }
  await db.query('CREATE SCHEMA api; CREATE TABLE api.exposed_probe (id int)');
  try {
    const run = await runCli(['doctor'], { env: baseEnv(db) });
    assert.equal(run.code, 1);
    assert.match(run.stdout, /exposed schemas\s+api, public/);
    assert.ok(findings(run.stdout).includes(
      'FINDING lint rls_disabled_in_public: api.exposed_probe: row level security is off'));
  } finally {
    await db.query('DROP SCHEMA api CASCADE');
    const a = await superuser();
    try { await a.query(`ALTER ROLE authenticator IN DATABASE ${db.name} RESET pgrst.db_schemas`); } finally { await a.end(); }
  }
});

test('an API role that bypasses RLS is found (on a cluster of its own: roles are cluster-wide)', async () => {
  const cluster = await privateCluster();
  try {
    await cluster.query('ALTER ROLE authenticated BYPASSRLS');
    const run = await runCli(['doctor'], { env: baseEnv(null, { DATABASE_URL: cluster.url }) });
    assert.equal(run.code, 1);
    assert.ok(findings(run.stdout).some((l) => l.startsWith('FINDING lint api_role_bypassrls: authenticated:')));
  } finally {
    await cluster.stop();
  }
});

test('the login role is checked: a superuser DATABASE_URL is a finding', async () => {
  const run = await runCli(['doctor'], { env: baseEnv(db, { DATABASE_URL: databaseUrl(db.name, 'postgres') }) });
  assert.equal(run.code, 1);
  assert.ok(findings(run.stdout).some((l) => l.startsWith('FINDING lint login_role_superuser: postgres:')));
});

test('an unreachable database is a finding, not a crash', async () => {
  const run = await runCli(['doctor'], { env: baseEnv(db, { DATABASE_URL: databaseUrl('no_such_db') }) });
  assert.equal(run.code, 1);
  assert.ok(findings(run.stdout).includes('FINDING database reachable: the database is unreachable'));
});

test('bad usage exits 2', async () => {
  const run = await runCli(['doctor', '--verbose'], { env: baseEnv(db) });
  assert.equal(run.code, 2);
  assert.match(run.stderr, /usage: scrollkeep doctor \[--json\]/);
});
