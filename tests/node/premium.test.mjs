// Echo, Council and artifact requests over real HTTP: the durable rows, the jobs enqueued in
// the same transaction, idempotency, the gift's recipient kept apart, another person's ids
// answered 404, and bad input refused with nothing written.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, startServer } from './lib/harness.mjs';
import { call, createPerson, grant, readingBody, rowCounts } from './lib/people.mjs';

let db;
let server;
let a;
let b;
let readingA;

before(async () => {
  db = await createDatabase();
  server = await startServer(baseEnv(db));
  a = await createPerson(db, 'a');
  b = await createPerson(db, 'b');
  await grant(server, a, 'email_delivery', 'public_share', 'gift_delivery');
  await grant(server, b, 'email_delivery', 'public_share', 'gift_delivery');
  readingA = (await call(server, 'POST', '/v1/readings', { token: a.token, body: readingBody() })).json.id;
});
after(async () => {
  await server?.stop();
  await db?.drop();
});

const inAWeek = () => new Date(Date.now() + 7 * 86400e3).toISOString();

test('an Echo is scheduled with its delivery job in the same transaction', async () => {
  const when = inAWeek();
  const res = await call(server, 'POST', '/v1/echoes', { token: a.token, body: { reading_id: readingA, scheduled_for: when } });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.reading_id, readingA);
  assert.equal(res.json.status, 'scheduled');
  assert.equal(new Date(res.json.scheduled_for).toISOString(), when);
  assert.match(res.json.job.support_ref, /^SK-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  const { rows: [job] } = await db.query('SELECT kind, status, payload, next_run_at, user_id, idempotency_key FROM delivery_jobs WHERE id = $1', [res.json.job.id]);
  assert.equal(job.kind, 'echo_delivery_job');
  assert.equal(job.status, 'queued');
  assert.equal(job.next_run_at.toISOString(), when, 'runs when the echo is due');
  assert.deepEqual(job.payload, { echo_id: res.json.id, user_id: a.id }, 'ids only');
  assert.equal(job.idempotency_key, `echo:${res.json.id}`);
  const { rows: [echo] } = await db.query('SELECT job_id FROM echoes WHERE id = $1', [res.json.id]);
  assert.equal(String(echo.job_id), String(res.json.job.id));
});

test('Echo input is checked: time bounds, ids, another person\'s reading', async () => {
  const tables = ['echoes', 'delivery_jobs'];
  const cases = [
    [{ reading_id: readingA, scheduled_for: new Date(Date.now() - 3600e3).toISOString() }, 422, /between one minute and one year/],
    [{ reading_id: readingA, scheduled_for: new Date(Date.now() + 400 * 86400e3).toISOString() }, 422, /between one minute and one year/],
    [{ reading_id: readingA, scheduled_for: 'next tuesday' }, 422, /RFC 3339/],
    [{ reading_id: 'nope', scheduled_for: inAWeek() }, 422, /reading_id must be a UUID/],
    [{ reading_id: readingA }, 422, /scheduled_for is required/],
  ];
  for (const [body, status, detail] of cases) {
    const before = await rowCounts(db, tables);
    const res = await call(server, 'POST', '/v1/echoes', { token: a.token, body });
    assert.equal(res.status, status, res.text);
    assert.match(res.json.detail, detail);
    assert.deepEqual(await rowCounts(db, tables), before);
  }
  const before = await rowCounts(db, tables);
  const res = await call(server, 'POST', '/v1/echoes', { token: b.token, body: { reading_id: readingA, scheduled_for: inAWeek() } });
  assert.equal(res.status, 404);
  assert.deepEqual(await rowCounts(db, tables), before);
});

test('a Council session is recorded with its voices', async () => {
  const voices = [{ voice: 'The Hermit', body: 'Walk slowly.' }, { voice: 'The Fool', body: 'Leap!' }];
  const res = await call(server, 'POST', '/v1/council', { token: a.token, body: { reading_id: readingA, voices } });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json.voices, [{ position: 1, voice: 'The Hermit' }, { position: 2, voice: 'The Fool' }]);
  const { rows } = await db.query('SELECT position, voice, body FROM council_voices WHERE session_id = $1 ORDER BY position', [res.json.id]);
  assert.deepEqual(rows.map((r) => [r.position, r.voice, r.body]), [[1, 'The Hermit', 'Walk slowly.'], [2, 'The Fool', 'Leap!']]);
  const tables = ['council_sessions', 'council_voices'];
  for (const [body, status] of [
    [{ reading_id: readingA, voices: [] }, 422],
    [{ reading_id: readingA, voices: Array(13).fill(voices[0]) }, 422],
    [{ reading_id: readingA, voices: [{ voice: '<script>', body: 'x' }] }, 422],
    [{ reading_id: readingA, voices: [{ voice: 'Ok', body: 'x'.repeat(8001) }] }, 422],
    [{ reading_id: readingA, voices: [{ voice: 'Ok' }] }, 422],
  ]) {
    const before = await rowCounts(db, tables);
    const r = await call(server, 'POST', '/v1/council', { token: a.token, body });
    assert.equal(r.status, status, r.text);
    assert.deepEqual(await rowCounts(db, tables), before);
  }
  const before = await rowCounts(db, tables);
  assert.equal((await call(server, 'POST', '/v1/council', { token: b.token, body: { reading_id: readingA, voices } })).status, 404);
  assert.deepEqual(await rowCounts(db, tables), before);
});

test('each artifact kind is its own entity with its own job; asking twice returns the same one', async () => {
  const expectedJob = { pdf: 'pdf_render_job', private_pdf: 'private_pdf_render_job', share_card: 'share_card_render_job', print_view: null };
  for (const [kind, jobKind] of Object.entries(expectedJob)) {
    const first = await call(server, 'POST', `/v1/readings/${readingA}/artifacts`, { token: a.token, body: { kind } });
    assert.equal(first.status, 202, first.text);
    assert.equal(first.json.kind, kind);
    assert.equal(first.json.status, 'requested');
    const second = await call(server, 'POST', `/v1/readings/${readingA}/artifacts`, { token: a.token, body: { kind } });
    assert.equal(second.status, 202);
    assert.equal(second.json.id, first.json.id, `${kind}: the same artifact`);
    const { rows: jobs } = await db.query(`SELECT kind, payload FROM delivery_jobs WHERE idempotency_key = 'artifact:' || $1`, [first.json.id]);
    if (jobKind) {
      assert.equal(jobs.length, 1, `${kind}: one job`);
      assert.equal(jobs[0].kind, jobKind);
      assert.deepEqual(jobs[0].payload, { artifact_id: first.json.id, user_id: a.id });
      assert.equal(second.json.job.id, first.json.job.id);
    } else {
      assert.equal(jobs.length, 0, 'print_view is rendered when opened');
    }
    const { rows: [row] } = await db.query('SELECT visibility, public_fields FROM oracle_artifacts WHERE id = $1', [first.json.id]);
    assert.equal(row.visibility, kind === 'share_card' ? 'public' : 'private');
    assert.deepEqual(Object.keys(row.public_fields).sort(), ['product_code', 'public_line', 'public_title', 'seal_sha256', 'sealed_at', 'spread']);
  }
});

test('concurrent identical requests make one artifact and one job', async () => {
  const r = (await call(server, 'POST', '/v1/readings', { token: a.token, body: readingBody() })).json.id;
  const results = await Promise.all(Array.from({ length: 12 }, () =>
    call(server, 'POST', `/v1/readings/${r}/artifacts`, { token: a.token, body: { kind: 'pdf' } })));
  assert.deepEqual([...new Set(results.map((x) => x.status))], [202]);
  assert.equal(new Set(results.map((x) => x.json.id)).size, 1);
  const { rows } = await db.query(`SELECT count(*) FROM oracle_artifacts WHERE reading_id = $1`, [r]);
  assert.equal(rows[0].count, '1');
});

test('a gift keeps its recipient in gift_recipients only', async () => {
  const gift = { email: 'Friend.Person@Example.test', name: 'Dear Friend', message: 'For your birthday' };
  const res = await call(server, 'POST', `/v1/readings/${readingA}/artifacts`, { token: a.token, body: { kind: 'gift', gift } });
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.job.status, 'queued');
  const again = await call(server, 'POST', `/v1/readings/${readingA}/artifacts`, { token: a.token, body: { kind: 'gift', gift: { email: 'friend.person@example.TEST' } } });
  assert.equal(again.json.id, res.json.id, 'the same address (any case) is the same gift');
  const other = await call(server, 'POST', `/v1/readings/${readingA}/artifacts`, { token: a.token, body: { kind: 'gift', gift: { email: 'someone.else@example.test' } } });
  assert.notEqual(other.json.id, res.json.id);

  const { rows: [rcpt] } = await db.query('SELECT email, name, message, user_id FROM gift_recipients WHERE artifact_id = $1', [res.json.id]);
  assert.deepEqual(rcpt, { email: gift.email, name: gift.name, message: gift.message, user_id: a.id });
  const { rows: [art] } = await db.query('SELECT row_to_json(a)::text AS t FROM oracle_artifacts a WHERE id = $1', [res.json.id]);
  const { rows: [job] } = await db.query(`SELECT row_to_json(j)::text AS t FROM delivery_jobs j WHERE idempotency_key = 'artifact:' || $1`, [res.json.id]);
  for (const text of [art.t, job.t, server.stderr]) {
    assert.ok(!text.toLowerCase().includes('friend.person@example.test'), 'the address is nowhere else');
    assert.ok(!text.includes('For your birthday'));
  }
});

test('artifact status is the owner\'s to read; bad input and other people\'s ids are refused', async () => {
  const pdf = await call(server, 'POST', `/v1/readings/${readingA}/artifacts`, { token: a.token, body: { kind: 'pdf' } });
  const got = await call(server, 'GET', `/v1/artifacts/${pdf.json.id}`, { token: a.token });
  assert.equal(got.status, 200);
  assert.equal(got.json.kind, 'pdf');
  assert.equal(got.json.job.kind, 'pdf_render_job');
  assert.match(got.json.job.support_ref, /^SK-/);
  assert.equal((await call(server, 'GET', `/v1/artifacts/${pdf.json.id}`, { token: b.token })).status, 404);
  assert.equal((await call(server, 'GET', '/v1/artifacts/not-a-uuid', { token: a.token })).status, 400);

  const tables = ['oracle_artifacts', 'gift_recipients', 'delivery_jobs'];
  for (const [path, body, status] of [
    [`/v1/readings/${readingA}/artifacts`, { kind: 'poster' }, 422],
    [`/v1/readings/${readingA}/artifacts`, { kind: 'gift' }, 422],
    [`/v1/readings/${readingA}/artifacts`, { kind: 'pdf', gift: { email: 'x@example.test' } }, 422],
    [`/v1/readings/${readingA}/artifacts`, { kind: 'gift', gift: { email: 'not an address' } }, 422],
    [`/v1/readings/${readingA}/artifacts`, { kind: 'gift', gift: { email: 'x@example.test', phone: '1' } }, 422],
    [`/v1/readings/${readingA}/artifacts`, { kind: 'gift', gift: { email: 'x@example.test', message: 'm'.repeat(1001) } }, 422],
    ['/v1/readings/12345/artifacts', { kind: 'pdf' }, 400],
  ]) {
    const before = await rowCounts(db, tables);
    const r = await call(server, 'POST', path, { token: a.token, body });
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    assert.deepEqual(await rowCounts(db, tables), before);
  }
  const before = await rowCounts(db, tables);
  const r = await call(server, 'POST', `/v1/readings/${readingA}/artifacts`, { token: b.token, body: { kind: 'gift', gift: { email: 'x@example.test' } } });
  assert.equal(r.status, 404, 'B cannot ask for artifacts of A\'s reading');
  assert.deepEqual(await rowCounts(db, tables), before);
});
