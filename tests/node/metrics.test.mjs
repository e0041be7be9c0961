// GET /metrics in the Prometheus text format: requests by method, route and status (labels
// from the route table, never from the request), the webhook's refusals, jobs by kind and
// status, the oldest ready and unknown jobs, the last backup and drill, and the deletions
// pending and overdue; every family once, its series together; nothing personal.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, databaseUrl, runCli, startServer } from './lib/harness.mjs';
import { call, createPerson } from './lib/people.mjs';
import { enqueue } from './lib/queue.mjs';

let db;
let server;
before(async () => {
  db = await createDatabase();
  server = await startServer(baseEnv(db));
});
after(async () => {
  await server?.stop();
  await db?.drop();
});

const scrape = async (s = server) => {
  const res = await fetch(`${s.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return res.text();
};
const value = (text, series) => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

/** The exposition format: HELP and TYPE once per family, then its samples, contiguous. */
function assertWellFormed(text) {
  const seen = new Set();
  let family = null;
  for (const line of text.trimEnd().split('\n')) {
    const help = line.match(/^# HELP ([a-z_]+) .+$/);
    if (help) {
      assert.ok(!seen.has(help[1]), `${help[1]} described twice`);
      seen.add(help[1]);
      family = help[1];
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      assert.match(line, new RegExp(`^# TYPE ${family} (counter|gauge)$`));
      continue;
    }
    assert.match(line, /^[a-z_]+(\{[a-z_]+="[^"\\\n]*"(,[a-z_]+="[^"\\\n]*")*\})? \d+$/, line);
    assert.equal(line.match(/^[a-z_]+/)[0], family, `${line} outside its family`);
  }
}

test('requests are counted by method, route pattern and status', async () => {
  const person = await createPerson(db, 'metrics');
  await fetch(`${server.url}/healthz`);
  await fetch(`${server.url}/healthz`);
  await fetch(`${server.url}/no/such/${person.email}`);
  await fetch(`${server.url}/v1/readings/${person.id}`, { method: 'BREW' });
  await call(server, 'GET', '/v1/readings/00000000-0000-4000-8000-000000000000', { token: person.token });
  await call(server, 'POST', '/v1/readings', { body: {} });
  const text = await scrape();
  assertWellFormed(text);
  assert.ok(value(text, 'scrollkeep_http_requests_total{method="GET",route="/healthz",status="200"}') >= 2);
  assert.ok(value(text, 'scrollkeep_http_requests_total{method="GET",route="/v1/readings/{id}",status="404"}') >= 1);
  assert.ok(value(text, 'scrollkeep_http_requests_total{method="POST",route="/v1/readings",status="401"}') >= 1);
  assert.ok(value(text, 'scrollkeep_http_requests_total{method="GET",route="unmatched",status="404"}') >= 1);
  assert.ok(value(text, 'scrollkeep_http_requests_total{method="other",route="unmatched",status="405"}') >= 1
    || value(text, 'scrollkeep_http_requests_total{method="other",route="unmatched",status="404"}') >= 1,
  'an unknown method is "other", never what the client sent');
  assert.ok(!text.includes('BREW') && !text.includes('@') && !text.includes(person.id), 'nothing from the request becomes a label');
});

test('jobs, queue age, backups, drills and deletions are read from the database', async () => {
  const before = await scrape();
  assert.equal(value(before, 'scrollkeep_last_backup_timestamp_seconds'), 0);
  assert.equal(value(before, 'scrollkeep_deletion_requests_pending'), 0);
  assert.equal(value(before, 'scrollkeep_database_up'), 1);

  const dead = await enqueue(db, 'recovery_email_job');
  await db.query(`UPDATE delivery_jobs SET status = 'dead', finished_at = now() WHERE id = $1`, [dead]);
  await enqueue(db, 'recovery_email_job', {}, { runAt: new Date(Date.now() - 3600e3).toISOString() });
  const unknown = await enqueue(db, 'recovery_email_job');
  await db.query(`UPDATE delivery_jobs SET status = 'unknown' WHERE id = $1`, [unknown]);
  await db.query(`INSERT INTO admin_audit_events (actor, actor_role, action) VALUES ('ops', 'operator', 'backup.completed'),
                                                                                ('ops', 'operator', 'restore.drill_passed')`);
  const person = await createPerson(db, 'forget');
  const env = baseEnv(db);
  const forget = await runCli(['privacy', 'forget', person.id, '--grace-hours', '48'], { env });
  assert.equal(forget.code, 0, forget.stderr);

  const text = await scrape();
  assertWellFormed(text);
  assert.equal(value(text, 'scrollkeep_jobs{kind="recovery_email_job",status="dead"}'), 1);
  assert.equal(value(text, 'scrollkeep_jobs{kind="recovery_email_job",status="unknown"}'), 1);
  assert.ok(value(text, 'scrollkeep_jobs{kind="recovery_email_job",status="queued"}') >= 1);
  assert.ok(value(text, 'scrollkeep_queue_oldest_ready_seconds') >= 3590, 'the job due an hour ago');
  assert.ok(value(text, 'scrollkeep_jobs_oldest_unknown_seconds') >= 0);
  const now = Date.now() / 1000;
  assert.ok(Math.abs(value(text, 'scrollkeep_last_backup_timestamp_seconds') - now) < 120);
  assert.ok(Math.abs(value(text, 'scrollkeep_last_drill_passed_timestamp_seconds') - now) < 120);
  assert.equal(value(text, 'scrollkeep_deletion_requests_pending'), 1);
  assert.equal(value(text, 'scrollkeep_deletion_requests_overdue'), 0);
  assert.ok(!text.includes(person.email) && !text.includes(person.id));
});

test('a scrape answers while the database is away, saying so', async () => {
  const away = await startServer(baseEnv(db, { DATABASE_URL: databaseUrl('no_such_db') }));
  try {
    const text = await scrape(away);
    assertWellFormed(text);
    assert.equal(value(text, 'scrollkeep_database_up'), 0);
  } finally {
    await away.stop();
  }
});
