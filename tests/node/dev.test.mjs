// The README's main command: `make run` is scripts/dev run. On a fresh directory it makes a
// private cluster, migrates it, writes the development environment and serves /healthz and
// /readyz; Ctrl-C (SIGINT) stops the server and `make stop` (scripts/dev stop) the cluster.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { env, runCli, tempDir } from './lib/harness.mjs';

function devEnv(varDir) {
  const e = { PATH: process.env.PATH, SCROLLKEEP_VAR: varDir, SCROLLKEEP_BIN: env.bin, SCROLLKEEP_LISTEN: '127.0.0.1:0' };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) if (process.env[k]) e[k] = process.env[k];
  return e;
}

function runDev(args, e) {
  return new Promise((resolve) => {
    const child = spawn(path.join(env.root, 'scripts', 'dev'), args, { cwd: env.root, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => resolve({ code, out }));
  });
}

test('make run: private cluster under the var directory, migrations, /healthz and /readyz, clean stops', async () => {
  const varDir = tempDir('sk-dev-');
  const e = devEnv(varDir);
  // A process group of its own, like a terminal's foreground job: Ctrl-C reaches all of it.
  const child = spawn(path.join(env.root, 'scripts', 'dev'), ['run'], { cwd: env.root, env: e, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr.on('data', (d) => { out += d; });
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no URL printed: ' + out)), 60000);
      child.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/scrollkeep serving (http:\/\/\S+)/);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      child.on('exit', (code) => reject(new Error(`scripts/dev run exited ${code}: ${out}`)));
    });
    assert.match(out, /migrate: \d+ applied, \d+ already current/);
    const health = await fetch(url + '/healthz');
    assert.equal(health.status, 200);
    const ready = await fetch(url + '/readyz');
    assert.equal(ready.status, 200);
    assert.equal((await ready.json()).checks.migrations, 'current');

    const envFile = path.join(varDir, 'env');
    assert.equal(fs.statSync(envFile).mode & 0o777, 0o600, 'the development secrets are private');
    const vars = Object.fromEntries(fs.readFileSync(envFile, 'utf8').trim().split('\n')
      .map((l) => l.split(/=(.*)/s).slice(0, 2)).map(([k, v]) => [k, v.replace(/^'(.*)'$/, '$1')]));
    // The file is sourced as the README says, and gives the same values.
    const sourced = execFileSync('bash', ['-c', `set -a; . '${envFile}'; printf %s "$DATABASE_URL"`]).toString();
    assert.equal(sourced, vars.DATABASE_URL);
    assert.match(vars.DATABASE_URL, /user=scrollkeep_app/);
    assert.ok(vars.SUPABASE_JWT_SECRET.length >= 32);
    assert.equal(vars.SUPABASE_SERVICE_ROLE_KEY.split('.').length, 3);

    // The same environment passes every doctor criterion but the two a fresh cluster cannot
    // have yet (a backup and a drill), and migrate --status is complete.
    const cliEnv = { PATH: process.env.PATH, ...vars };
    const doctor = await runCli(['doctor', '--json'], { env: cliEnv });
    assert.equal(doctor.code, 1, doctor.stdout);
    assert.deepEqual(JSON.parse(doctor.stdout).scorecard.lines.filter((l) => !l.pass).map((l) => l.criterion),
      ['backups_recent', 'restore_drill_recent'], doctor.stdout);
    assert.ok(vars.STRIPE_WEBHOOK_SECRET.startsWith('whsec_'), 'a development webhook secret, for the demo');
    assert.match(out, /shop import: .*demo-shop\.json|demo catalog/, 'the demo catalog is seeded');
    assert.match(out, /scrollkeep demo/, 'the demo is offered');
    const status = await runCli(['migrate', '--status'], { env: cliEnv });
    assert.equal(status.code, 0);
    assert.match(status.stdout, / 0 pending/);

    // The worker runs beside the server, on the same database.
    await new Promise((r) => setTimeout(r, 300));
    assert.match(out, /"event":"worker_started"/);

    const exit = await new Promise((resolve) => { child.once('exit', resolve); process.kill(-child.pid, 'SIGINT'); });
    assert.equal(exit, 0, 'Ctrl-C stops the server cleanly');
    assert.match(out, /"event":"server_stopped"/);
    assert.match(out, /"event":"worker_stopped"/);

    // A second run reuses the cluster and the secrets.
    const again = await runDev(['up'], e);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /migrate: 0 applied/);
    assert.equal(fs.readFileSync(envFile, 'utf8').includes(vars.SUPABASE_JWT_SECRET), true);
  } finally {
    if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    const stop = await runDev(['stop'], e);
    assert.equal(stop.code, 0, stop.out);
    fs.rmSync(varDir, { recursive: true, force: true });
  }
});
