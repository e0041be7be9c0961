// Artifacts end to end: a sealed reading's pdf, private_pdf, share_card, print_view and gift
// rendered by a real worker into the store, opened with poppler (pdftotext, pdfinfo) and a PNG
// decoder, served by the routes, and searched for the private text wherever it must not be.
// Also the store's integrity: verify finds missing, damaged and orphan files; sweep removes
// the orphans.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { PNG } from 'pngjs';
import { after, before, test } from 'node:test';
import { baseEnv, createDatabase, runCli, startServer, startWorker, tempDir } from './lib/harness.mjs';
import { call, consentBody, createPerson, grant, readingBody } from './lib/people.mjs';

const QUESTION = 'Secret-Question-7f3a: will <b>Marguerite</b> & I "reconcile"?';
const ANSWER = 'Secret-Answer-9c1e: the Tower falls so the Star can rise. '.repeat(3);

let db;
let env;
let server;
let owner;
let other;
let reading;
let store;
let maildir;

before(async () => {
  db = await createDatabase();
  store = tempDir('sk-store-');
  maildir = tempDir('sk-mail-');
  env = baseEnv(db, { ARTIFACT_DIR: store, SCROLLKEEP_MAILDIR: maildir, MAIL_FROM: 'The Oracle <oracle@scrollkeep.test>' });
  server = await startServer(env);
  owner = await createPerson(db, 'owner');
  other = await createPerson(db, 'other');
  await grant(server, owner, 'email_delivery', 'public_share', 'gift_delivery');
  const res = await call(server, 'POST', '/v1/readings', { token: owner.token, body: readingBody({ question: QUESTION, answer: ANSWER }) });
  assert.equal(res.status, 201, res.text);
  reading = res.json;
});
after(async () => {
  await server?.stop();
  await db?.drop();
  fs.rmSync(store, { recursive: true, force: true });
  fs.rmSync(maildir, { recursive: true, force: true });
});

async function request(kind, extra = {}) {
  const res = await call(server, 'POST', `/v1/readings/${reading.id}/artifacts`, { token: owner.token, body: { kind, ...extra } });
  assert.equal(res.status, 202, res.text);
  return res.json;
}

async function drain() {
  const w = startWorker(env, ['--once']);
  const { code } = await w.exited;
  assert.equal(code, 0, w.stderr);
  return w;
}

const pdftotext = (file) => execFileSync('pdftotext', ['-layout', file, '-']).toString();
const pdfinfo = (file) => Object.fromEntries(execFileSync('pdfinfo', [file]).toString().trim().split('\n')
  .map((l) => l.split(/:\s+(.*)/s).slice(0, 2)));
const mails = async () => Promise.all(fs.readdirSync(path.join(maildir, 'new')).sort()
  .map(async (f) => simpleParser(fs.readFileSync(path.join(maildir, 'new', f)))));

function assertNoPrivateText(text, where) {
  assert.ok(!text.includes('Secret-Question-7f3a'), `${where} holds the question`);
  assert.ok(!text.includes('Secret-Answer-9c1e'), `${where} holds the answer`);
  assert.ok(!text.includes('Marguerite'), `${where} holds a word of the question`);
}

let ids = {};

test('each kind is rendered into the store and marked ready with its sha256 and size', async () => {
  for (const kind of ['pdf', 'private_pdf', 'share_card', 'print_view']) ids[kind] = (await request(kind)).id;
  ids.gift = (await request('gift', { gift: { email: 'friend@example.test', name: 'Dear Friend', message: 'Happy birthday, from me' } })).id;
  await drain();
  const { rows } = await db.query(`SELECT id, kind, status, storage_path, sha256, bytes, content_type FROM oracle_artifacts WHERE reading_id = $1`, [reading.id]);
  const byKind = Object.fromEntries(rows.map((r) => [r.kind, r]));
  for (const kind of ['pdf', 'private_pdf', 'share_card']) {
    const r = byKind[kind];
    assert.equal(r.status, 'ready', kind);
    const file = path.join(store, r.storage_path);
    const bytes = fs.readFileSync(file);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), r.sha256, `${kind}: the row's sha256 is the file's`);
    assert.equal(Number(r.bytes), bytes.length);
    assert.equal(path.basename(r.storage_path), `${r.sha256}.${kind === 'share_card' ? 'png' : 'pdf'}`, 'named by content');
  }
  assert.equal(byKind.gift.status, 'delivered');
  assert.equal(byKind.print_view.status, 'requested', 'the print view is rendered when it is opened');
  const { rows: jobs } = await db.query(`SELECT kind, status FROM delivery_jobs WHERE status <> 'succeeded'`);
  assert.deepEqual(jobs, [], 'every job succeeded');
});

test('the public PDF shows the safe fields and the seal, and not the private text', async () => {
  const res = await call(server, 'GET', `/v1/artifacts/${ids.pdf}/file`, { token: owner.token });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/pdf');
  const { rows: [row] } = await db.query('SELECT sha256 FROM oracle_artifacts WHERE id = $1', [ids.pdf]);
  assert.equal(res.headers.get('etag'), `"${row.sha256}"`);
  assert.equal(res.headers.get('cache-control'), 'private, no-cache', 'no shared cache may keep it');
  const again = await call(server, 'GET', `/v1/artifacts/${ids.pdf}/file`, { token: owner.token, headers: { 'If-None-Match': `"${row.sha256}"` } });
  assert.equal(again.status, 304);
  const file = path.join(tempDir('sk-pdf-'), 'public.pdf');
  const bin = await (await fetch(`${server.url}/v1/artifacts/${ids.pdf}/file`, { headers: { Authorization: `Bearer ${owner.token}` } })).arrayBuffer();
  fs.writeFileSync(file, Buffer.from(bin));
  const text = pdftotext(file);
  assert.match(text, /The Star/);
  assert.match(text, /Hope returns to what is tended\./);
  assert.match(text, /Three of Cups \(reversed\)/);
  assert.match(text, new RegExp(reading.seal_sha256));
  assertNoPrivateText(text, 'the public PDF');
  const info = pdfinfo(file);
  assert.equal(info.Title, 'A reading');
  assert.equal(info.Pages, '1');
  assertNoPrivateText(Buffer.from(bin).toString('latin1'), 'the public PDF bytes');
});

test('the private PDF holds the question and the answer, for its owner alone', async () => {
  const res = await fetch(`${server.url}/v1/artifacts/${ids.private_pdf}/file`, { headers: { Authorization: `Bearer ${owner.token}` } });
  assert.equal(res.status, 200);
  const file = path.join(tempDir('sk-pdf-'), 'private.pdf');
  fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  const text = pdftotext(file).replace(/\s+/g, ' ');
  assert.ok(text.includes('Secret-Question-7f3a: will <b>Marguerite</b> & I "reconcile"?'), 'the question, as typed');
  assert.ok(text.includes('Secret-Answer-9c1e'));
  assert.equal(pdfinfo(file).Title, 'A private reading', 'the metadata names no private text');
  assert.equal((await call(server, 'GET', `/v1/artifacts/${ids.private_pdf}/file`, { token: other.token })).status, 404);
  assert.equal((await call(server, 'GET', `/v1/artifacts/${ids.private_pdf}/file`)).status, 401);
});

test('the share card: a 1200x630 PNG that is not blank, safe JSON and Open Graph tags', async () => {
  const { rows: [row] } = await db.query('SELECT share_token FROM oracle_artifacts WHERE id = $1', [ids.share_card]);
  const png = await fetch(`${server.url}/share/${row.share_token}?format=png`);
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('content-type'), 'image/png');
  const image = PNG.sync.read(Buffer.from(await png.arrayBuffer()));
  assert.equal(image.width, 1200);
  assert.equal(image.height, 630);
  const colours = new Set();
  for (let i = 0; i < image.data.length; i += 4 * 97) colours.add(image.data.readUInt32BE(i));
  assert.ok(colours.size > 50, `a drawn card, not a blank one (${colours.size} colours sampled)`);

  const json = await fetch(`${server.url}/share/${row.share_token}`, { headers: { Accept: 'application/json' } });
  const card = await json.json();
  assert.deepEqual(Object.keys(card).sort(), ['cards', 'image', 'line', 'sealed_at', 'title']);
  assert.equal(card.title, 'The Star');
  assertNoPrivateText(JSON.stringify(card), 'the share card JSON');

  const html = await (await fetch(`${server.url}/share/${row.share_token}`)).text();
  assert.match(html, /<meta property="og:title" content="The Star">/);
  assert.match(html, /<meta property="og:image" content="http:\/\/127\.0\.0\.1:3000\/share\/[A-Za-z0-9_-]{43}\?format=png">/);
  assertNoPrivateText(html, 'the share page');
  for (const bad of ['short', 'x'.repeat(43).replace(/x/g, '!'), '..%2F..%2Fetc%2Fpasswd', 'A'.repeat(43)]) {
    assert.equal((await fetch(`${server.url}/share/${bad}`)).status, 404, bad);
  }
});

test('the print view is HTML for print, with every value escaped, for its owner', async () => {
  const res = await call(server, 'GET', `/v1/artifacts/${ids.print_view}/file`, { token: owner.token });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(res.text, /@page\{size:A4/);
  assert.ok(res.text.includes('will &lt;b&gt;Marguerite&lt;/b&gt; &amp; I &quot;reconcile&quot;?'), 'escaped, not markup');
  assert.ok(!res.text.includes('<b>Marguerite'));
  assert.equal((await call(server, 'GET', `/v1/artifacts/${ids.print_view}/file`, { token: other.token })).status, 404);
});

test('the gift: its recipient gets a link (no reading text), and the link serves the gift PDF', async () => {
  const all = await mails();
  const gift = all.find((m) => m.to.text === 'friend@example.test');
  assert.ok(gift, 'the recipient got the gift');
  assert.equal(gift.subject, 'A reading was sent to you as a gift');
  assert.match(gift.text, /Hello Dear Friend,/);
  assert.match(gift.text, /Happy birthday, from me/);
  const link = gift.text.match(/http:\/\/127\.0\.0\.1:3000\/gift\/([A-Za-z0-9_-]{43})/);
  assert.ok(link, 'a link to the gift');
  assertNoPrivateText(gift.text + gift.html, 'the gift e-mail');
  const pdf = await fetch(`${server.url}/gift/${link[1]}`);
  assert.equal(pdf.status, 200);
  assert.equal(pdf.headers.get('content-type'), 'application/pdf');
  const file = path.join(tempDir('sk-pdf-'), 'gift.pdf');
  fs.writeFileSync(file, Buffer.from(await pdf.arrayBuffer()));
  const text = pdftotext(file);
  assert.match(text, /A GIFT FOR YOU/);
  assertNoPrivateText(text, 'the gift PDF');
  assert.ok(!text.includes('Dear Friend') && !text.includes('Happy birthday'), 'nothing of the recipient is in the file');
  const { rows: [msg] } = await db.query(`SELECT row_to_json(m)::text AS t FROM email_messages m WHERE template = 'gift'`);
  assert.ok(!msg.t.includes('friend@example.test'), 'email_messages holds no address');
});

test('the owner is told each file is ready, by e-mail without any of the reading', async () => {
  const all = await mails();
  const ready = all.filter((m) => m.to.text === owner.email);
  assert.deepEqual(ready.map((m) => m.subject).sort(), ['Your PDF is ready', 'Your private PDF is ready', 'Your share card is ready']);
  for (const m of ready) {
    assertNoPrivateText(`${m.subject}\n${m.text}\n${m.html}`, 'a ready e-mail');
    assert.match(m.text, /http:\/\/127\.0\.0\.1:3000\/readings\/[0-9a-f-]{36}\/artifacts\/[0-9a-f-]{36}/);
    assert.match(m.messageId, /^<sk-\d+@scrollkeep\.test>$/);
    assert.equal(m.from.text, '"The Oracle" <oracle@scrollkeep.test>');
  }
  const { rows } = await db.query(`SELECT template, recipient_kind, recipient_ref, status, provider_ref FROM email_messages WHERE template = 'artifact_ready'`);
  assert.equal(rows.length, 3);
  for (const r of rows) {
    assert.equal(r.recipient_kind, 'person');
    assert.equal(r.recipient_ref, owner.id, 'a reference, not an address');
    assert.equal(r.status, 'sent');
    assert.match(r.provider_ref, /^maildir:new\//);
  }
});

test('withdrawing public_share kills the share link at once', async () => {
  const { rows: [row] } = await db.query('SELECT share_token FROM oracle_artifacts WHERE id = $1', [ids.share_card]);
  assert.equal((await fetch(`${server.url}/share/${row.share_token}?format=png`)).status, 200);
  await call(server, 'POST', '/v1/consents', { token: owner.token, body: consentBody('public_share', 'withdrawn') });
  for (const format of ['png', 'json', 'html']) {
    assert.equal((await fetch(`${server.url}/share/${row.share_token}?format=${format}`)).status, 404, format);
  }
});

test('long text paginates, and the same reading renders to the same bytes', async () => {
  const long = 'The wheel turns and the river keeps its course. '.repeat(400) + 'Last-sentence-marker.';
  const created = await call(server, 'POST', '/v1/readings', { token: owner.token, body: readingBody({ answer: long }) });
  const art = (await call(server, 'POST', `/v1/readings/${created.json.id}/artifacts`, { token: owner.token, body: { kind: 'private_pdf' } })).json;
  await drain();
  const { rows: [row] } = await db.query('SELECT storage_path, sha256 FROM oracle_artifacts WHERE id = $1', [art.id]);
  const file = path.join(store, row.storage_path);
  assert.ok(Number(pdfinfo(file).Pages) >= 4, 'several pages');
  assert.match(pdftotext(file), /Last-sentence-marker\./, 'nothing is lost at the end');
  // Render it again: the job is retried by an operator after its file is removed.
  fs.rmSync(file);
  await db.query(`UPDATE oracle_artifacts SET status = 'requested', storage_path = NULL, sha256 = NULL, bytes = NULL, content_type = NULL WHERE id = $1`, [art.id]);
  const { rows: [job] } = await db.query(`SELECT support_ref FROM delivery_jobs WHERE idempotency_key = 'artifact:' || $1`, [art.id]);
  assert.equal((await runCli(['jobs', 'retry', job.support_ref, '--reason', 'render again'], { env })).code, 1, 'a succeeded job is not retried');
  await db.query(`SELECT scrollkeep.enqueue_job('private_pdf_render_job', jsonb_build_object('artifact_id', $1::text), 'again:' || $1)`, [art.id]);
  await drain();
  const { rows: [again] } = await db.query('SELECT sha256 FROM oracle_artifacts WHERE id = $1', [art.id]);
  assert.equal(again.sha256, row.sha256, 'deterministic: the same bytes');
});

test('verify finds missing, damaged and orphan files; sweep removes the orphans', async () => {
  const clean = await runCli(['verify'], { env });
  assert.equal(clean.code, 0, clean.stdout);
  assert.match(clean.stdout, /^ok\s+orphan_artifact\s+0$/m);

  const { rows: [pdf] } = await db.query('SELECT id, storage_path FROM oracle_artifacts WHERE id = $1', [ids.pdf]);
  const { rows: [card] } = await db.query('SELECT id, storage_path FROM oracle_artifacts WHERE id = $1', [ids.share_card]);
  const pdfFile = path.join(store, pdf.storage_path);
  const saved = fs.readFileSync(pdfFile);
  fs.rmSync(pdfFile);
  const cardFile = path.join(store, card.storage_path);
  const cardBytes = fs.readFileSync(cardFile);
  fs.writeFileSync(cardFile, Buffer.concat([cardBytes, Buffer.from('tampered')]));
  const orphan = path.join(store, 'ab', `ab${'0'.repeat(62)}.pdf`);
  fs.mkdirSync(path.dirname(orphan), { recursive: true });
  fs.writeFileSync(orphan, 'left behind by a crash');
  const old = new Date(Date.now() - 2 * 3600e3);
  fs.utimesSync(orphan, old, old);

  const found = await runCli(['verify', '--json'], { env });
  assert.equal(found.code, 1);
  const items = JSON.parse(found.stdout).checks.find((c) => c.name === 'orphan_artifact').items;
  assert.deepEqual(items.map((i) => [i.problem, i.id]).sort(), [
    ['mismatch', card.id], ['missing', pdf.id], ['orphan', path.relative(store, orphan)]].sort());
  assert.equal((await call(server, 'GET', `/v1/artifacts/${card.id}/file`, { token: owner.token })).status, 500, 'a damaged file is never served');

  const swept = await runCli(['sweep'], { env });
  assert.equal(swept.code, 0);
  assert.match(swept.stdout, /removed 1 file/);
  assert.ok(!fs.existsSync(orphan));
  assert.ok(fs.existsSync(cardFile), 'a file a row points to stays');
  fs.writeFileSync(pdfFile, saved);
  fs.writeFileSync(cardFile, cardBytes);
  assert.equal((await runCli(['verify'], { env })).code, 0);
});
