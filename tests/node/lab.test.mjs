// The live persistence lab: the catalog held against the live schema, the worker's handlers and
// the configuration (every table, job kind and variable it names exists; every risk check
// runs); the panel over HTTP (service role only) and from the command line, with readiness per
// channel, consent from flags or a person's real ledger, live job counts and risk violations;
// values of variables never shown; a bad catalog refused, naming what is wrong; and
// docs/persistence-standard.md rendered from the same catalog.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, env as harness, runCli, startServer, tempDir } from './lib/harness.mjs';
import { call, createPerson, grant, serviceToken } from './lib/people.mjs';
import { enqueue } from './lib/queue.mjs';

const catalog = JSON.parse(fs.readFileSync(path.join(harness.root, 'lab', 'catalog.json'), 'utf8'));
const SECRET = 'sk_test_lab_value_never_shown_0123456789';
let db;
let env;
let server;
const admin = serviceToken();

before(async () => {
  db = await createDatabase();
  env = baseEnv(db, { STRIPE_SECRET_KEY: SECRET, STRIPE_WEBHOOK_SECRET: 'whsec_lab_0123456789abcdef', SMTP_URL: 'smtp://127.0.0.1:2525', MAIL_FROM: 'Oracle <o@scrollkeep.test>' });
  server = await startServer(env);
});
after(async () => {
  await server?.stop();
  await db?.drop();
});

const plan = (query, token = admin) => call(server, 'GET', `/v1/lab/plan?${new URLSearchParams(query)}`, { token });

test('the catalog holds against the live schema, the handlers and the configuration', async () => {
  const doctor = JSON.parse((await runCli(['doctor', '--json'], { env })).stdout);
  const knownEnv = new Set(doctor.checks.filter((c) => c.area === 'env').map((c) => c.name));
  assert.ok(catalog.layers.length >= 7);
  for (const layer of catalog.layers) {
    const run = await runCli(['lab', '--layer', layer.name, '--json'], { env });
    assert.ok([0, 1].includes(run.code), run.stderr);
    const p = JSON.parse(run.stdout);
    assert.equal(p.layer.name, layer.name);
    for (const t of p.tables) {
      assert.ok(t.present, `${layer.name}: table ${t.name} exists`);
      assert.ok(t.rls, `${layer.name}: ${t.name} is under RLS`);
      assert.ok(t.policies.length > 0, `${layer.name}: ${t.name} has a policy`);
    }
    for (const j of p.jobs) {
      assert.ok(j.registered, `${layer.name}: job kind ${j.kind} is registered`);
      assert.ok(j.handler, `${layer.name}: the worker handles ${j.kind}`);
    }
    for (const e of p.env) assert.ok(knownEnv.has(e.name), `${layer.name}: ${e.name} is a variable doctor knows`);
    for (const r of p.risks) assert.equal(r.violations, 0, `${layer.name}: ${r.name} runs and is clean (${r.error ?? ''})`);
    assert.ok(p.facts.length > 0 && p.risks.length > 0);
    assert.ok(!run.stdout.includes(SECRET), 'a value is never shown');
  }
});

test('the panel over HTTP: readiness per channel from handlers, variables and consent', async () => {
  const none = await plan({ layer: 'shop', channels: 'receipt', consent: '' });
  assert.equal(none.status, 200, none.text);
  const receipt = none.json.channels.find((c) => c.name === 'receipt');
  assert.equal(receipt.selected, true);
  assert.equal(receipt.ready, false);
  assert.deepEqual(receipt.missing.consent, ['email_delivery']);
  assert.deepEqual(none.json.consent, { source: 'flags', required: ['email_delivery'], given: [], missing: ['email_delivery'] });
  assert.deepEqual(none.json.jobs.map((j) => j.kind), ['receipt_email_job'], 'only the selected channel\'s jobs');
  assert.ok(none.json.tables.some((t) => t.name === 'email_messages'), 'the channel\'s tables join the layer\'s');
  assert.equal(none.json.channels.find((c) => c.name === 'pdf').selected, false);
  const stripeKey = none.json.env.find((e) => e.name === 'STRIPE_SECRET_KEY');
  assert.deepEqual(stripeKey, { name: 'STRIPE_SECRET_KEY', state: 'set', secret: true });
  assert.ok(!none.text.includes(SECRET));

  const given = await plan({ layer: 'shop', channels: 'receipt', consent: 'email_delivery' });
  assert.equal(given.json.channels.find((c) => c.name === 'receipt').ready, true);
  assert.deepEqual(given.json.consent.missing, []);

  // Every channel by default; a variable missing makes its channel not ready.
  const all = await plan({ layer: 'readings' });
  assert.deepEqual(all.json.channels.map((c) => [c.name, c.selected]), [['oracle', true], ['passport', true]]);
  const oracle = all.json.channels.find((c) => c.name === 'oracle');
  assert.deepEqual(oracle.missing.env, ['AI_API_URL', 'AI_API_KEY']);
  assert.equal(all.json.summary.missing_env, 2);
  assert.deepEqual(all.json.layers.map((l) => l.name), catalog.layers.map((l) => l.name));
});

test('consent from a person\'s real ledger', async () => {
  const person = await createPerson(db, 'lab');
  await grant(server, person, 'email_delivery', 'public_share');
  const res = await plan({ layer: 'artifacts', channels: 'share_card,gift', user: person.id });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.consent.source, 'ledger');
  assert.deepEqual(res.json.consent.given, ['email_delivery', 'public_share']);
  assert.deepEqual(res.json.consent.missing, ['gift_delivery']);
  assert.equal(res.json.channels.find((c) => c.name === 'share_card').ready, true);
  assert.equal(res.json.channels.find((c) => c.name === 'gift').ready, false);
  assert.ok(!res.text.includes(person.email));
  const cli = await runCli(['lab', '--layer', 'artifacts', '--channels', 'share_card', '--user', person.id], { env });
  assert.equal(cli.code, 0, cli.stdout + cli.stderr);
  assert.match(cli.stdout, /ready\s+\[x\] share_card/);
});

test('live counts: jobs queued, dead and unknown now, and each risk\'s violations', async () => {
  const dead = await enqueue(db, 'receipt_email_job');
  await db.query(`UPDATE delivery_jobs SET status = 'dead', finished_at = now() WHERE id = $1`, [dead]);
  await db.query(`INSERT INTO stripe_events (stripe_event_id, type, livemode, object_id, payload, first_received_at, last_received_at)
                  VALUES ('evt_lab_stuck', 'checkout.session.completed', false, 'cs_x', '{"id": "x"}',
                          now() - interval '20 minutes', now() - interval '20 minutes')`);
  try {
    const res = await plan({ layer: 'shop', channels: 'receipt', consent: 'email_delivery' });
    assert.equal(res.json.jobs[0].dead, 1);
    assert.equal(res.json.risks.find((r) => r.name === 'stripe_event_stuck').violations, 1);
    assert.equal(res.json.summary.violations, 1);
    const cli = await runCli(['lab', '--layer', 'shop', '--channels', 'receipt', '--consent', 'email_delivery'], { env });
    assert.equal(cli.code, 1, 'a violation is a finding');
    assert.match(cli.stdout, /stripe_event_stuck\s+VIOLATIONS 1/);
    assert.match(cli.stdout, /receipt_email_job\s+handler yes queued 0 dead 1 unknown 0/);
  } finally {
    await db.query(`DELETE FROM stripe_events WHERE stripe_event_id = 'evt_lab_stuck'`);
    await db.query('DELETE FROM delivery_jobs WHERE id = $1', [dead]);
  }
});

test('bad requests are refused, naming what is wrong; only the service role may ask', async () => {
  const person = await createPerson(db, 'nosy');
  const cases = [
    [{ layer: 'nope' }, 400, /no layer nope \(the layers are readings, echo/],
    [{ layer: 'shop', channels: 'receipt,fax' }, 400, /the shop layer has no channel fax \(it has receipt, passport, pdf, share_card\)/],
    [{ layer: 'shop', consent: 'telepathy' }, 400, /no consent purpose telepathy/],
    [{ layer: 'shop', consent: 'marketing', user: person.id }, 400, /consent or user, not both/],
    [{ layer: 'shop', user: 'me' }, 400, /user must be a UUID/],
    [{ layer: 'shop', user: '00000000-0000-4000-8000-000000000000' }, 404, /no such person/],
    [{}, 400, /no layer/],
  ];
  for (const [query, status, detail] of cases) {
    const res = await plan(query);
    assert.equal(res.status, status, `${JSON.stringify(query)}: ${res.text}`);
    assert.match(res.json.detail, detail);
  }
  assert.equal((await plan({ layer: 'shop' }, person.token)).status, 403);
  assert.equal((await call(server, 'GET', '/v1/lab/plan?layer=shop')).status, 401);
  assert.equal((await runCli(['lab', '--layer', 'nope'], { env })).code, 2);
  assert.equal((await runCli(['lab'], { env })).code, 2);
});

test('the page and its files are served with a strict policy', async () => {
  for (const [p, type] of [['/lab', /text\/html/], ['/lab/lab.js', /text\/javascript/], ['/lab/lab.css', /text\/css/]]) {
    const res = await fetch(`${server.url}${p}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), type);
    assert.match(res.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  }
  assert.equal((await fetch(`${server.url}/lab/catalog.json`)).status, 404);
  assert.equal((await fetch(`${server.url}/lab/..%2Fsrc%2Fmain.c`)).status, 404);
});

test('a bad catalog is refused, naming what is wrong', async () => {
  const dir = tempDir('sk-lab-');
  const bad = (mutate) => {
    const c = structuredClone(catalog);
    mutate(c);
    const file = path.join(dir, `c${Math.random()}.json`);
    fs.writeFileSync(file, JSON.stringify(c));
    return runCli(['lab', '--layer', 'shop'], { env: { ...env, SCROLLKEEP_LAB_CATALOG: file } });
  };
  const cases = [
    [(c) => { c.layers[0].env.push('NOT_A_VARIABLE'); }, /layers\[0\]: env\[2\] is not a variable the configuration knows/],
    [(c) => { c.layers[1].channels[0].jobs.push('fax_job'); }, /layers\[1\]: jobs\[1\] is not a job kind the worker handles/],
    [(c) => { c.layers[0].channels[0].consent = ['telepathy']; }, /consent\[0\] is not a consent purpose/],
    [(c) => { c.layers[0].risks[0].check = 'DELETE FROM readings'; }, /a SELECT check/],
    [(c) => { c.layers[0].facts[0].risk = 'no_such_risk'; }, /a risk of the layer/],
    [(c) => { c.format = 'other/1'; }, /not a scrollkeep-lab\/1 catalog/],
  ];
  for (const [mutate, why] of cases) {
    const run = await bad(mutate);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, why);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('docs/persistence-standard.md is the catalog\'s standard', async () => {
  const run = await runCli(['lab', '--standard'], { env });
  assert.equal(run.code, 0, run.stderr);
  const doc = fs.readFileSync(path.join(harness.root, 'docs', 'persistence-standard.md'), 'utf8');
  assert.equal(doc, run.stdout, 'docs/persistence-standard.md is stale: run make docs');
  for (const layer of catalog.layers) assert.ok(doc.includes(`## ${layer.title}`));
});
