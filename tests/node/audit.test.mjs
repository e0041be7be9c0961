// The operator's trail: concurrent writers keep the hash chain linear; `scrollkeep audit verify`
// walks it, prints the head and names the first row that does not hold (a changed row, a
// removed one); `doctor` reports the head or the break; `audit tail` prints the latest events
// and follows new ones; GET /v1/admin/audit serves it to the service role only.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { baseEnv, createDatabase, env, runCli, startServer, waitFor } from './lib/harness.mjs';
import { call, createPerson, serviceToken } from './lib/people.mjs';

let db;
before(async () => { db = await createDatabase(); });
after(async () => { await db?.drop(); });

/** Append events as the service role does, from `writers` connections at once. */
async function appendConcurrently(database, writers, each) {
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    const c = new pg.Client({ host: env.pghost, user: 'scrollkeep_app', database: database.name });
    await c.connect();
    try {
      for (let i = 0; i < each; i++) {
        await c.query('BEGIN');
        await c.query('SET LOCAL ROLE service_role');
        await c.query(`INSERT INTO admin_audit_events (actor, actor_role, action, subject_type, subject_id, reason, details)
                       VALUES ('ops.ada', 'operator', 'job.retry', 'delivery_job', $1, 'provider back up', $2)`,
                      [`${w * 1000 + i}`, { writer: w, n: i }]);
        await c.query('COMMIT');
      }
    } finally {
      await c.end();
    }
  }));
}

async function chain(database) {
  const { rows } = await database.query('SELECT id, chain_seq, prev_hash, row_hash FROM admin_audit_events ORDER BY chain_seq');
  return rows.map((r) => ({ ...r, id: Number(r.id), chain_seq: Number(r.chain_seq) }));
}

test('concurrent writers keep the chain linear; audit verify walks it and prints its head', async () => {
  const before = (await chain(db)).length;
  await appendConcurrently(db, 8, 25);
  const rows = await chain(db);
  assert.equal(rows.length, before + 200);
  rows.forEach((r, i) => {
    assert.equal(r.chain_seq, i + 1, 'gapless');
    assert.equal(r.prev_hash, i ? rows[i - 1].row_hash : null, 'each row links the one before it');
  });
  const head = rows.at(-1);
  const { rows: applied } = await db.query(`SELECT e.subject_id, e.details->>'sha256' AS sha256, f.sha256 AS file
                                              FROM admin_audit_events e JOIN scrollkeep.migration_files f ON f.version = e.subject_id
                                             WHERE e.action = 'migration.applied' ORDER BY e.chain_seq`);
  assert.ok(applied.length >= 6 && applied[0].subject_id.endsWith('09'), 'each migration from the trail\'s own on is in it');
  for (const m of applied) assert.equal(m.sha256, m.file);
  const run = await runCli(['audit', 'verify'], { env: baseEnv(db) });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.equal(run.stdout, `audit: ${rows.length} rows, chain intact; head ${head.chain_seq} ${head.row_hash}\n`);
  const json = await runCli(['audit', 'verify', '--json'], { env: baseEnv(db) });
  assert.deepEqual(JSON.parse(json.stdout), { rows: rows.length, head_seq: head.chain_seq, head_hash: head.row_hash, intact: true });
  const doctor = await runCli(['doctor'], { env: baseEnv(db) });
  assert.match(doctor.stdout, new RegExp(`ok\\s+audit\\s+chain\\s+${rows.length} rows intact, head ${head.chain_seq} ${head.row_hash}`));
});

test('a changed row, then a removed one, is named by audit verify and reported by doctor', async () => {
  const own = await createDatabase();
  try {
    await appendConcurrently(own, 2, 10);
    const rows = await chain(own);
    const mine = rows.slice(-20); // the template's migrations are in the trail before them
    const [a, b, gone, after] = [mine[6], mine[11], mine[4], mine[5]];
    await own.query('ALTER TABLE admin_audit_events DISABLE TRIGGER admin_audit_events_append_only');
    await own.query(`UPDATE admin_audit_events SET reason = 'rewritten later' WHERE chain_seq = $1`, [a.chain_seq]);
    let run = await runCli(['audit', 'verify'], { env: baseEnv(own) });
    assert.equal(run.code, 1);
    assert.equal(run.stdout, `audit: chain broken at seq ${a.chain_seq} (row id ${a.id}): its content does not match its hash\n`);
    const doctor = await runCli(['doctor'], { env: baseEnv(own) });
    assert.equal(doctor.code, 1);
    assert.match(doctor.stdout, new RegExp(`FINDING audit chain: broken at seq ${a.chain_seq} \\(row id ${a.id}, hash\\)`));

    await own.query(`UPDATE admin_audit_events SET reason = 'provider back up' WHERE chain_seq = $1`, [a.chain_seq]);
    assert.equal((await runCli(['audit', 'verify'], { env: baseEnv(own) })).code, 0, 'restored, it holds again');

    // A row rewritten with a fresh hash of its own still breaks the next row's link.
    await own.query(`UPDATE admin_audit_events SET reason = 'rewritten', row_hash = repeat('a', 64) WHERE chain_seq = $1`, [b.chain_seq]);
    run = await runCli(['audit', 'verify', '--json'], { env: baseEnv(own) });
    assert.equal(run.code, 1);
    assert.deepEqual(JSON.parse(run.stdout), { rows: rows.length, head_seq: rows.at(-1).chain_seq, head_hash: rows.at(-1).row_hash,
                                               intact: false, broken_seq: b.chain_seq, broken_id: b.id, problem: 'hash' });
    await own.query(`DELETE FROM admin_audit_events WHERE chain_seq >= $1`, [b.chain_seq]);
    await own.query(`DELETE FROM admin_audit_events WHERE chain_seq = $1`, [gone.chain_seq]);
    run = await runCli(['audit', 'verify'], { env: baseEnv(own) });
    assert.equal(run.stdout, `audit: chain broken at seq ${after.chain_seq} (row id ${after.id}): a row before it is missing\n`);
  } finally {
    await own.drop();
  }
});

test('audit tail prints the latest events oldest first, and --follow prints new ones until SIGTERM', async () => {
  const rows = await chain(db);
  const run = await runCli(['audit', 'tail', '--limit', '3'], { env: baseEnv(db) });
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  assert.equal(lines.length, 3);
  assert.deepEqual(lines.map((l) => Number(l.split(/\s+/)[0])), rows.slice(-3).map((r) => r.chain_seq));
  assert.match(lines[2], /ops\.ada \(operator\)\s+job\.retry\s+delivery_job:\d+\s+reason="provider back up"\s+\{"n":\d+,"writer":\d+\}$/);
  const json = await runCli(['audit', 'tail', '--limit', '2', '--json', '--action', 'job.retry'], { env: baseEnv(db) });
  assert.deepEqual(json.stdout.trim().split('\n').map((l) => JSON.parse(l).seq), rows.slice(-2).map((r) => r.chain_seq));
  assert.equal((await runCli(['audit', 'tail', '--limit', '0'], { env: baseEnv(db) })).code, 2);
  assert.equal((await runCli(['audit', 'tail', '--action', 'Job.Retry'], { env: baseEnv(db) })).code, 1);

  const child = spawn(env.bin, ['audit', 'tail', '--limit', '1', '--follow', '--json'], { env: baseEnv(db), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  await waitFor(() => out.includes('\n'), { what: 'the first event' });
  await appendConcurrently(db, 1, 2);
  const seqs = () => out.trim().split('\n').map((l) => JSON.parse(l).seq);
  await waitFor(() => seqs().length === 3, { what: 'the two new events' });
  assert.deepEqual(seqs(), [rows.at(-1).chain_seq, rows.at(-1).chain_seq + 1, rows.at(-1).chain_seq + 2]);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('GET /v1/admin/audit is the service role\'s: the latest page in chain order, paging back, bad queries 400', async () => {
  const server = await startServer(baseEnv(db));
  try {
    const rows = await chain(db);
    const token = serviceToken();
    const person = await createPerson(db);
    assert.equal((await call(server, 'GET', '/v1/admin/audit', { token: person.token })).status, 403);
    assert.equal((await call(server, 'GET', '/v1/admin/audit')).status, 401);
    const page = await call(server, 'GET', '/v1/admin/audit?limit=5', { token });
    assert.equal(page.status, 200);
    const { events } = page.json;
    assert.deepEqual(events.map((e) => e.seq), rows.slice(-5).map((r) => r.chain_seq));
    assert.deepEqual(Object.keys(events[0]).sort(), ['action', 'actor', 'actor_role', 'details', 'id', 'occurred_at', 'reason',
                                                      'row_hash', 'seq', 'subject_id', 'subject_type']);
    const back = (await call(server, 'GET', `/v1/admin/audit?limit=5&before=${events[0].seq}`, { token })).json;
    assert.deepEqual(back.events.map((e) => e.seq), rows.slice(-10, -5).map((r) => r.chain_seq));
    const fwd = (await call(server, 'GET', `/v1/admin/audit?after=${rows.at(-3).chain_seq}`, { token })).json;
    assert.deepEqual(fwd.events.map((e) => e.seq), rows.slice(-2).map((r) => r.chain_seq));
    const none = (await call(server, 'GET', '/v1/admin/audit?action=refund.recorded', { token })).json;
    assert.deepEqual(none.events, []);
    for (const q of ['limit=0', 'limit=1001', 'limit=x', 'before=-1', 'before=1e3', 'after=abc', 'action=Job.Retry', 'action=job']) {
      assert.equal((await call(server, 'GET', `/v1/admin/audit?${q}`, { token })).status, 400, q);
    }
  } finally {
    await server.stop();
  }
});
