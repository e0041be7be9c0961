// Backups remember; restores forget again. `scrollkeep backup` writes pg_dump's custom format
// of one snapshot, the artifact store and a manifest; `restore` refuses a damaged backup, a
// newer migration level or a database that is not empty, proves the copy equal to the
// snapshot (per-table counts and checksums, file hashes) and forgets again everyone erased
// since; `restore --drill` does the round trip with a canary person.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, runCli, startServer, startWorker, tempDir } from './lib/harness.mjs';
import { call, createPerson, grant, readingBody } from './lib/people.mjs';

let db;
let env;
let server;
let store;
let work;
let person;
const dbs = [];

async function emptyDatabase() {
  const d = await createDatabase({ empty: true });
  dbs.push(d);
  return d;
}

before(async () => {
  db = await createDatabase();
  store = tempDir('sk-store-');
  work = tempDir('sk-backup-');
  env = baseEnv(db, { ARTIFACT_DIR: store, SCROLLKEEP_MAILDIR: path.join(work, 'mail'),
                      SCROLLKEEP_ERASURE_KEY: 'backup-test-erasure-key-0123456789' });
  server = await startServer(env);
  person = await createPerson(db, 'kept');
  await grant(server, person, 'email_delivery');
  const r = await call(server, 'POST', '/v1/readings', { token: person.token, body: readingBody({ question: 'Backup-Question-3e1f: will it hold?' }) });
  assert.equal(r.status, 201, r.text);
  assert.equal((await call(server, 'POST', `/v1/readings/${r.json.id}/artifacts`, { token: person.token, body: { kind: 'pdf' } })).status, 202);
  const w = startWorker(env, ['--once']);
  assert.equal((await w.exited).code, 0, w.stderr);
});
after(async () => {
  await server?.stop();
  for (const d of dbs) await d.drop();
  await db?.drop();
  fs.rmSync(store, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

const tablesOf = async (d) => (await d.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname IN ('public', 'scrollkeep', 'auth')`)).rows[0].n;

test('a backup, restored, equals its snapshot; a person forgotten since is forgotten again', async () => {
  const dir = path.join(work, 'b1');
  const run = await runCli(['backup', '--out', dir], { env });
  assert.equal(run.code, 0, run.stderr);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.format, 'scrollkeep-backup/1');
  assert.match(manifest.migration_level, /^\d{14}$/);
  assert.equal(manifest.tables['public.readings'].rows, 1);
  assert.match(manifest.tables['public.readings'].checksum, /^[0-9a-f]{32}$/);
  assert.match(manifest.files['database.dump'], /^[0-9a-f]{64}$/);
  assert.match(manifest.audit_chain.head_hash, /^[0-9a-f]{64}$/, 'the audit chain head, to check a copy against');
  assert.ok(manifest.audit_chain.head_seq >= 1);
  const artifactFiles = Object.keys(manifest.files).filter((f) => f.startsWith('artifacts/'));
  assert.equal(artifactFiles.length, 1, 'the pdf');
  assert.equal((await runCli(['backup', '--out', dir], { env })).code, 2, 'a directory that is not empty is refused');

  // Forgotten after the backup was taken.
  const forget = await runCli(['privacy', 'forget', person.id], { env });
  assert.equal(forget.code, 0, forget.stderr);

  const target = await emptyDatabase();
  const copyStore = path.join(work, 'store1');
  const restore = await runCli(['restore', '--from', dir, '--into', target.url, '--artifacts', copyStore], { env });
  assert.equal(restore.code, 0, restore.stderr + restore.stdout);
  const report = JSON.parse(restore.stdout);
  assert.equal(report.ok, true);
  assert.deepEqual(report.tables_differing, []);
  assert.deepEqual(report.files_differing, []);
  assert.equal(report.audit_chain_matches, true);
  assert.equal(report.files_restored, 1);
  assert.ok(report.tombstones_copied >= 1);
  assert.equal(report.forgotten_again, 1, 'the person came back with the backup and was forgotten again');
  assert.equal((await target.query('SELECT count(*)::int AS n FROM auth.users WHERE id = $1', [person.id])).rows[0].n, 0);
  const { rows } = await target.query('SELECT * FROM scrollkeep.erasure_scan(ARRAY[$1, $2])', [person.id, person.email]);
  assert.deepEqual(rows, []);
  assert.equal((await target.query('SELECT count(*)::int AS n FROM readings WHERE anonymized_at IS NOT NULL')).rows[0].n, 1, 'the scroll is still there');
  assert.equal(fs.readdirSync(copyStore).length >= 0, true);

  const again = await runCli(['restore', '--from', dir, '--into', target.url, '--artifacts', copyStore], { env });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /not empty/);
});

test('a damaged backup or one from a newer migration level is refused, and nothing is restored', async () => {
  const dir = path.join(work, 'b2');
  assert.equal((await runCli(['backup', '--out', dir], { env })).code, 0);
  const target = await emptyDatabase();

  const manifestPath = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  const newer = { ...manifest, migration_level: '99991231000000' };
  fs.writeFileSync(manifestPath, JSON.stringify(newer));
  const refused = await runCli(['restore', '--from', dir, '--into', target.url], { env });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /newer than this build/);
  fs.writeFileSync(manifestPath, JSON.stringify(manifest));

  const dump = path.join(dir, 'database.dump');
  const bytes = fs.readFileSync(dump);
  bytes[bytes.length - 10] ^= 0xff;
  fs.writeFileSync(dump, bytes);
  const damaged = await runCli(['restore', '--from', dir, '--into', target.url], { env });
  assert.equal(damaged.code, 1);
  assert.match(damaged.stderr, /damaged: database.dump/);
  assert.equal(await tablesOf(target), 0, 'nothing restored');
  assert.equal((await runCli(['restore', '--from', dir], { env })).code, 2);
});

test('the drill makes the round trip and the canary does not come back', async () => {
  const target = await emptyDatabase();
  const drill = await runCli(['restore', '--drill', '--into', target.url], { env });
  assert.equal(drill.code, 0, drill.stderr + drill.stdout);
  const report = JSON.parse(drill.stdout);
  assert.equal(report.ok, true);
  assert.equal(report.canary_hits, 0);
  assert.equal(report.canary_forgotten_again, true);
  assert.deepEqual(report.restore.tables_differing, []);
  const { rows: [canary] } = await db.query(`SELECT count(*)::int AS n FROM auth.users WHERE email LIKE 'canary-%@drill.invalid'`);
  assert.equal(canary.n, 0, 'the canary is forgotten in the source too');
  assert.equal(await tablesOf(target), 0, 'the throwaway copy is emptied again');
  const second = await runCli(['restore', '--drill', '--into', target.url], { env });
  assert.equal(second.code, 0, second.stderr);
  assert.equal(JSON.parse(second.stdout).ok, true, 'so it can run on a schedule');
});
