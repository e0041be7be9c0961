// The /lab page in a real browser (Debian's chromium, driven by playwright-core): open it with
// the service role key, pick a layer and channels, give and take consent, and watch the panel
// follow the live database — a channel becomes ready, a risk's count turns red when a
// violation appears. Saves a screenshot into the test results.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { baseEnv, createDatabase, startServer, tempDir } from './lib/harness.mjs';
import { serviceToken } from './lib/people.mjs';

const results = process.env.SK_RESULTS ?? tempDir('sk-lab-page-');
let db;
let server;
let browser;

before(async () => {
  db = await createDatabase();
  server = await startServer(baseEnv(db, { SMTP_URL: 'smtp://127.0.0.1:2525', MAIL_FROM: 'Oracle <o@scrollkeep.test>',
                                           STRIPE_SECRET_KEY: 'sk_test_page', STRIPE_WEBHOOK_SECRET: 'whsec_page_0123456789' }));
  browser = await chromium.launch({ executablePath: process.env.SK_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
});
after(async () => {
  await browser?.close();
  await server?.stop();
  await db?.drop();
});

test('the lab page: choose a layer, channels and consent; the panel follows the live database', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  await page.goto(`${server.url}/lab`);
  assert.equal(await page.title(), 'scrollkeep · persistence lab');

  // A wrong key is refused and says so; the right one opens the lab.
  await page.fill('#key', 'not-a-key');
  await page.click('#connect-button');
  await page.waitForSelector('#connect-error:not([hidden])');
  assert.match(await page.textContent('#connect-error'), /token|bearer|JWT/i);
  await page.fill('#key', serviceToken());
  await page.click('#connect-button');
  await page.waitForSelector('#lab:not([hidden])');
  await page.waitForSelector('#risks .risk');

  // The Shop, only its receipt: not ready until email_delivery is given.
  await page.selectOption('#layer', 'shop');
  await page.waitForSelector('#channels input[value=receipt]');
  for (const name of ['passport', 'pdf', 'share_card']) await page.uncheck(`#channels input[value=${name}]`);
  await page.waitForFunction(() => document.getElementById('consent-missing')?.textContent === 'email_delivery');
  await page.waitForSelector('.channel[data-channel=receipt][data-ready=false]');
  assert.match(await page.textContent('.channel[data-channel=receipt] .why'), /needs email_delivery/);
  await page.check('#consent-email_delivery');
  await page.waitForSelector('.channel[data-channel=receipt][data-ready=true]');
  await page.waitForFunction(() => document.getElementById('consent-missing')?.textContent === 'none');
  assert.equal(await page.textContent('#ready-chip'), '1 of 1 channels ready');
  assert.ok(await page.$('#jobs tr[data-job=receipt_email_job]'), 'the receipt job is listed');
  assert.equal(await page.getAttribute('#env li[data-env=STRIPE_SECRET_KEY]', 'data-state'), 'set');
  assert.ok(!(await page.content()).includes('sk_test_page'), 'a value never reaches the page');

  // A violation appears in the database: the risk's count turns red.
  const calm = await page.$eval('.risk[data-risk=stripe_event_stuck] .count', (e) => getComputedStyle(e).backgroundColor);
  await db.query(`INSERT INTO stripe_events (stripe_event_id, type, livemode, object_id, payload, first_received_at, last_received_at)
                  VALUES ('evt_page_stuck', 'checkout.session.completed', false, 'cs_x', '{"id": "x"}',
                          now() - interval '20 minutes', now() - interval '20 minutes')`);
  await page.uncheck('#consent-email_delivery');
  await page.check('#consent-email_delivery'); // any change asks again
  await page.waitForSelector('.risk[data-risk=stripe_event_stuck][data-violations="1"]');
  assert.equal(await page.textContent('.risk[data-risk=stripe_event_stuck] .count'), '1');
  // Drawn in the alarm colour (the page may still be settling its last answer: wait for it).
  await page.waitForFunction(() => {
    const e = document.querySelector('.risk[data-risk=stripe_event_stuck] .count');
    return e && getComputedStyle(e).backgroundColor === 'rgb(179, 38, 30)';
  }, null, { timeout: 5000 });
  assert.notEqual(calm, 'rgb(179, 38, 30)', 'and was calm before');
  assert.equal(await page.textContent('#violations-chip'), '1 violation now');
  await page.screenshot({ path: path.join(results, 'lab.png'), fullPage: true });

  // Another layer: its own tables and channels.
  await page.selectOption('#layer', 'privacy');
  await page.waitForSelector('#tables tr[data-table=erasure_tombstones]');
  assert.deepEqual(await page.$$eval('#channels input', (xs) => xs.map((x) => x.value)), ['export', 'deletion']);
  // The one resource error is the wrong key's 401, which the test provoked.
  assert.deepEqual(problems.filter((m) => !/status of 401/.test(m)), [], 'no script error on the page');
});
