// `scrollkeep serve` over real HTTP: liveness, readiness (database and migration level),
// problem+json errors, body limits, request ids, one private-data-free log line per request,
// and a clean stop on SIGTERM.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { baseEnv, copyMigrations, createDatabase, databaseUrl, request, startServer } from './lib/harness.mjs';

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

function assertProblem(res, status, slug) {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  assert.equal(res.json.type, `urn:scrollkeep:problem:${slug}`);
  assert.equal(res.json.status, status);
  assert.equal(typeof res.json.title, 'string');
  assert.equal(res.json.instance, res.headers.get('x-request-id'));
}

test('GET /healthz answers 200 with no caching', async () => {
  const res = await request(server, '/healthz');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { status: 'ok' });
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
});

test('GET /readyz is ready on a migrated database', async () => {
  const res = await request(server, '/readyz');
  assert.equal(res.status, 200);
  assert.equal(res.json.status, 'ready');
  assert.deepEqual(res.json.checks, { database: 'ok', migrations: 'current' });
  assert.equal(res.json.migrations.applied, res.json.migrations.expected);
  assert.ok(res.json.migrations.expected >= 9);
});

test('GET /readyz is 503 when a migration is pending', async () => {
  const dir = copyMigrations();
  fs.writeFileSync(path.join(dir, '20991231000000_pending.sql'), 'SELECT 1;\n');
  const behind = await startServer(baseEnv(db, { SCROLLKEEP_MIGRATIONS_DIR: dir }));
  try {
    const res = await request(behind, '/readyz');
    assert.equal(res.status, 503);
    assert.equal(res.json.status, 'not_ready');
    assert.equal(res.json.checks.migrations, 'behind');
    assert.deepEqual(res.json.migrations.not_current, [{ version: '20991231000000', state: 'pending' }]);
    assert.equal((await request(behind, '/healthz')).status, 200, 'still alive');
  } finally {
    assert.equal(await behind.stop(), 0);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('GET /readyz is 503 when the database is unreachable, and the server keeps serving', async () => {
  const env = baseEnv(db);
  env.DATABASE_URL = databaseUrl('no_such_database');
  const lonely = await startServer(env);
  try {
    const res = await request(lonely, '/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual(res.json.checks, { database: 'unreachable', migrations: 'unknown' });
    assert.equal((await request(lonely, '/healthz')).status, 200);
  } finally {
    assert.equal(await lonely.stop(), 0);
  }
});

test('unknown routes are 404 and wrong methods 405, as problem+json', async () => {
  assertProblem(await request(server, '/nowhere'), 404, 'not-found');
  assertProblem(await request(server, '/healthz/'), 404, 'not-found');
  const res = await request(server, '/healthz', { method: 'DELETE' });
  assertProblem(res, 405, 'method-not-allowed');
  assert.equal(res.headers.get('allow'), 'GET');
});

test('a body over the limit is refused with 413 before it is read', async () => {
  const res = await request(server, '/healthz', { method: 'POST', body: 'x'.repeat(70 * 1024) });
  assertProblem(res, 413, 'too-large');
});

test('a chunked body that grows over the limit is refused', async () => {
  const status = await new Promise((resolve, reject) => {
    const { hostname, port } = new URL(server.url);
    const sock = net.connect(Number(port), hostname);
    let reply = '';
    sock.on('data', (d) => {
      reply += d;
      if (reply.includes('\r\n\r\n')) { sock.destroy(); resolve(reply); }
    });
    sock.on('error', () => resolve(reply));
    sock.on('close', () => resolve(reply));
    sock.on('connect', () => {
      sock.write('POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      const chunk = 'y'.repeat(8192);
      for (let i = 0; i < 10; i++) sock.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      sock.write('0\r\n\r\n');
    });
    setTimeout(() => reject(new Error('no answer')), 5000);
  });
  assert.match(status, /^HTTP\/1\.1 413 /);
});

test('request ids: a safe incoming id is kept, anything else replaced', async () => {
  const kept = await request(server, '/healthz', { headers: { 'X-Request-Id': 'site-abc.123' } });
  assert.equal(kept.headers.get('x-request-id'), 'site-abc.123');
  const replaced = await request(server, '/healthz', { headers: { 'X-Request-Id': 'person@example.test' } });
  assert.match(replaced.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
  const fresh = await request(server, '/healthz');
  assert.match(fresh.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
});

test('one JSON log line per request: route pattern, status, timing; never the raw path', async () => {
  const secretPath = '/share/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde';
  await request(server, secretPath);
  await request(server, '/healthz', { headers: { 'X-Request-Id': 'log-probe-1' } });
  await new Promise((r) => setTimeout(r, 100));
  const lines = server.logs().filter((l) => l.event === 'http_request');
  const probe = lines.find((l) => l.request_id === 'log-probe-1');
  assert.ok(probe, 'the request was logged');
  assert.equal(probe.route, '/healthz');
  assert.equal(probe.status, 200);
  assert.equal(probe.method, 'GET');
  assert.equal(typeof probe.duration_ms, 'number');
  assert.deepEqual(Object.keys(probe).sort(),
    ['bytes_in', 'bytes_out', 'duration_ms', 'event', 'level', 'method', 'reason_code', 'request_id', 'route', 'status', 'ts']);
  assert.ok(!server.stderr.includes('AbCdEfGhIjKlMnOp'), 'the raw path never reaches the log');
  for (const l of server.logs()) assert.ok(!l.raw, `every stderr line is JSON: ${l.raw}`);
});

test('SIGTERM stops the server cleanly', async () => {
  const other = await startServer(baseEnv(db));
  assert.equal((await request(other, '/healthz')).status, 200);
  assert.equal(await other.stop('SIGTERM'), 0);
  const events = other.logs().map((l) => l.event);
  assert.ok(events.includes('server_stopping') && events.includes('server_stopped'));
});
