// `scrollkeep rls-map` prints the live policy map, and docs/rls-policy-map.md is exactly its
// output on a freshly migrated database (run `make docs` when this test says it is stale).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { baseEnv, createDatabase, env, runCli } from './lib/harness.mjs';

test('the RLS policy map covers every table and docs/rls-policy-map.md is current', async () => {
  const db = await createDatabase();
  try {
    const run = await runCli(['rls-map'], { env: baseEnv(db) });
    assert.equal(run.code, 0, run.stderr);
    const { rows } = await db.query(`SELECT 'public.' || tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
    for (const { t } of rows) {
      assert.match(run.stdout, new RegExp(`^\\| ${t.replace('.', '\\.')} \\| table \\| on \\| no \\|`, 'm'), `${t} is listed with RLS on`);
    }
    assert.match(run.stdout, /^### public\.readings$/m);
    assert.match(run.stdout, /\| readings_owner_read \| SELECT \| permissive \| authenticated \| `\(user_id = \( SELECT auth\.uid\(\) AS uid\)\)` \|/);
    const committed = fs.readFileSync(path.join(env.root, 'docs', 'rls-policy-map.md'), 'utf8');
    assert.ok(committed === run.stdout, 'docs/rls-policy-map.md is stale: run make docs');
  } finally {
    await db.drop();
  }
});

test('rls-map takes no arguments', async () => {
  const run = await runCli(['rls-map', 'extra'], { env: baseEnv(null) });
  assert.equal(run.code, 2);
});

test('docs/privacy-data-map.md is the data map of a freshly migrated database', async () => {
  const db = await createDatabase();
  try {
    const run = await runCli(['privacy', 'map'], { env: baseEnv(db) });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^\| public\.readings \| question \| text \| private \| .* \| user_id = \$1 \|$/m);
    assert.match(run.stdout, /^\| public\.council_voices \| body \| text \| private \| .* \| session_id IN /m);
    const committed = fs.readFileSync(path.join(env.root, 'docs', 'privacy-data-map.md'), 'utf8');
    assert.ok(committed === run.stdout, 'docs/privacy-data-map.md is stale: run make docs');
  } finally {
    await db.drop();
  }
});
