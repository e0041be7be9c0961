// The migration runner against the real PostgreSQL: fresh apply, re-apply as a no-op,
// --status, a tampered applied file refused, a failing file leaving nothing behind, two
// runners at once, and the other refusals (a file that commits itself, an out-of-order file,
// an applied file gone missing).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { baseEnv, copyMigrations, createDatabase, migrationsDir, runCli } from './lib/harness.mjs';

const files = fs.readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort();

function migrateEnv(db, dir = migrationsDir) {
  return baseEnv(db, { SCROLLKEEP_MIGRATIONS_DIR: dir });
}

async function applied(db) {
  const { rows } = await db.query(`
    SELECT m.version, m.name, array_length(m.statements, 1) AS statements, f.sha256
      FROM supabase_migrations.schema_migrations m
      LEFT JOIN scrollkeep.migration_files f USING (version) ORDER BY version`);
  return rows;
}

async function tableExists(db, name) {
  const { rows } = await db.query('SELECT to_regclass($1) IS NOT NULL AS exists', [name]);
  return rows[0].exists;
}

test('fresh apply records every file where the Supabase CLI looks, then re-apply is a no-op', async () => {
  const db = await createDatabase({ empty: true });
  try {
    const first = await runCli(['migrate'], { env: migrateEnv(db) });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`migrate: ${files.length} applied, 0 already current`));
    for (const f of files) assert.ok(first.stdout.includes(`applied ${f}`), `output names ${f}`);

    const rows = await applied(db);
    assert.deepEqual(rows.map((r) => `${r.version}_${r.name}.sql`), files);
    for (const r of rows) {
      assert.ok(r.statements >= 1, 'statements holds the file split into statements');
      assert.match(r.sha256, /^[0-9a-f]{64}$/);
    }
    const { rows: [compat] } = await db.query(
      `SELECT statements FROM supabase_migrations.schema_migrations WHERE name = 'supabase_compat'`);
    assert.equal(compat.statements.length, 2, 'the compat migration is two DO blocks');
    assert.match(compat.statements[0], /^-- Supabase compatibility/);
    // The objects belong to the database owner, not to the login role that ran the command.
    const { rows: owners } = await db.query(`
      SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'`);
    assert.deepEqual(owners.map((o) => o.owner), ['scrollkeep_owner']);

    const again = await runCli(['migrate'], { env: migrateEnv(db) });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`migrate: 0 applied, ${files.length} already current`));
    assert.deepEqual(await applied(db), rows, 'nothing recorded twice');

    const status = await runCli(['migrate', '--status'], { env: migrateEnv(db) });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`${files.length} applied, 0 pending`));
  } finally {
    await db.drop();
  }
});

test('--status lists applied and pending', async () => {
  const db = await createDatabase();
  const dir = copyMigrations();
  try {
    fs.writeFileSync(path.join(dir, '20991231000000_later.sql'), 'CREATE TABLE scrollkeep.later_probe (id int);\n');
    const status = await runCli(['migrate', '--status'], { env: migrateEnv(db, dir) });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /20991231000000\s+pending\s+-\s+later/);
    assert.match(status.stdout, /20261125000001\s+applied\s+\d{4}-\d\d-\d\d/);
    assert.match(status.stdout, new RegExp(`${files.length} applied, 1 pending`));
    assert.equal(await tableExists(db, 'scrollkeep.later_probe'), false, '--status changes nothing');
  } finally {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a changed applied file is refused before anything runs', async () => {
  const db = await createDatabase();
  const dir = copyMigrations();
  try {
    fs.appendFileSync(path.join(dir, files[2]), '\n-- an edit after the fact\n');
    fs.writeFileSync(path.join(dir, '20991231000000_later.sql'), 'CREATE TABLE scrollkeep.later_probe (id int);\n');
    const run = await runCli(['migrate'], { env: migrateEnv(db, dir) });
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim().split('\n').length, 1, 'one clear line');
    assert.match(run.stderr, new RegExp(`${files[2]} was changed after it was applied`));
    assert.equal(await tableExists(db, 'scrollkeep.later_probe'), false, 'the pending file did not run');
    const status = await runCli(['migrate', '--status'], { env: migrateEnv(db, dir) });
    assert.equal(status.code, 1);
    assert.match(status.stdout, /tampered/);
  } finally {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing file leaves nothing behind and stops the run', async () => {
  const db = await createDatabase();
  const dir = copyMigrations();
  try {
    fs.writeFileSync(path.join(dir, '20991231000000_breaks.sql'),
      'CREATE TABLE scrollkeep.half_made (id int);\nINSERT INTO scrollkeep.half_made VALUES (1);\nSELECT 1/0;\n');
    fs.writeFileSync(path.join(dir, '20991231000001_after.sql'), 'CREATE TABLE scrollkeep.after_probe (id int);\n');
    const run = await runCli(['migrate'], { env: migrateEnv(db, dir) });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /20991231000000_breaks\.sql failed and was rolled back: division by zero \(22012\)/);
    assert.equal(await tableExists(db, 'scrollkeep.half_made'), false, 'the failing file left no table');
    assert.equal(await tableExists(db, 'scrollkeep.after_probe'), false, 'later files did not run');
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM supabase_migrations.schema_migrations WHERE version LIKE '2099%'`);
    assert.equal(rows[0].n, 0, 'the failing file is not recorded');
  } finally {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('two runners at once serialize: each file applied exactly once', async () => {
  const db = await createDatabase({ empty: true });
  try {
    const [a, b] = await Promise.all([
      runCli(['migrate'], { env: migrateEnv(db) }),
      runCli(['migrate'], { env: migrateEnv(db) }),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const counts = [a, b].map((r) => Number(r.stdout.match(/migrate: (\d+) applied/)[1])).sort();
    assert.deepEqual(counts, [0, files.length], 'one runner applied everything, the other nothing');
    assert.equal((await applied(db)).length, files.length);
  } finally {
    await db.drop();
  }
});

test('a file that ends its own transaction is refused and undone', async () => {
  const db = await createDatabase();
  const dir = copyMigrations();
  try {
    fs.writeFileSync(path.join(dir, '20991231000000_commits.sql'), 'CREATE TABLE scrollkeep.committed_probe (id int);\nCOMMIT;\n');
    const run = await runCli(['migrate'], { env: migrateEnv(db, dir) });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /ends its own transaction/);
    assert.equal(await tableExists(db, 'scrollkeep.committed_probe'), false, 'refused before anything ran');
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM supabase_migrations.schema_migrations WHERE version LIKE '2099%'`);
    assert.equal(rows[0].n, 0, 'not recorded as applied');
  } finally {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an out-of-order pending file and an applied file gone missing are refused', async () => {
  const db = await createDatabase();
  const dir = copyMigrations();
  try {
    fs.writeFileSync(path.join(dir, '20200101000000_too_old.sql'), 'SELECT 1;\n');
    const old = await runCli(['migrate'], { env: migrateEnv(db, dir) });
    assert.equal(old.code, 1);
    assert.match(old.stderr, /20200101000000_too_old\.sql is older than applied/);

    fs.rmSync(path.join(dir, '20200101000000_too_old.sql'));
    fs.rmSync(path.join(dir, files.at(-1)));
    const missing = await runCli(['migrate'], { env: migrateEnv(db, dir) });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /is applied but its file is missing/);
  } finally {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad usage and a bad directory are clear errors', async () => {
  const bad = await runCli(['migrate', '--nope'], { env: baseEnv(null) });
  assert.equal(bad.code, 2);
  const dir = copyMigrations();
  try {
    fs.writeFileSync(path.join(dir, 'oops.sql'), 'SELECT 1;');
    const run = await runCli(['migrate'], { env: migrateEnv({ url: 'postgresql:///nowhere' }, dir) });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /oops\.sql is not named <14-digit version>_<name>\.sql/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
