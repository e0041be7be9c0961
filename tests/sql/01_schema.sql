-- The shape of the schema: every DESIGN.md table, each under RLS, every column classified,
-- nothing granted to anon, the unique keys money and delivery rely on, and the claim index.
BEGIN;
SET search_path = tap, public;

SELECT plan(
  3                                                                           -- tables, views, schema
  + (SELECT count(*)::int FROM tap.public_tables()) * 2                       -- RLS on, no anon
  + 2                                                                         -- classification, its reach
  + 13                                                                        -- unique keys
  + 4                                                                         -- functions and index
  + 1                                                                         -- RLS in scrollkeep
);

SELECT tables_are('public', ARRAY[
  'passports', 'passport_stamps', 'readings', 'echoes', 'council_sessions', 'council_voices',
  'oracle_artifacts', 'gift_recipients', 'delivery_jobs', 'delivery_attempts', 'email_messages',
  'consent_events', 'products', 'prices', 'purchase_links', 'checkout_sessions', 'payments',
  'entitlements', 'stripe_events', 'admin_audit_events', 'deletion_requests', 'data_exports',
  'erasure_tombstones', 'ai_calls'],
  'public holds exactly the tables of DESIGN.md');
SELECT views_are('public', ARRAY['consent_current'], 'public holds one view, consent_current');
SELECT ok(NOT has_schema_privilege('anon', 'scrollkeep', 'USAGE'), 'anon cannot use schema scrollkeep');

SELECT ok(c.relrowsecurity, format('%s has row level security on', t))
  FROM tap.public_tables() t JOIN pg_class c ON c.oid = t;
SELECT is_empty($$
  SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'scrollkeep' AND c.relkind = 'r' AND NOT c.relrowsecurity
     AND c.relname <> 'migration_files'$$,
  'every table of the private schema is under row level security too (but the runner''s own bookkeeping)');
SELECT ok(NOT has_table_privilege('anon', t, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER'),
          format('anon holds no privilege on %s', t))
  FROM tap.public_tables() t;

SELECT is_empty($$
  SELECT table_schema || '.' || table_name || '.' || column_name FROM scrollkeep.column_classes
   WHERE class IS NULL
$$, 'every column in public and scrollkeep is classified public, private, pii, financial or operational');
SELECT is_empty($$
  SELECT table_schema || '.' || table_name FROM scrollkeep.personal_tables
   WHERE scrollkeep.subject_rows(table_schema, table_name) IS NULL
     AND (table_schema, table_name) <> ('scrollkeep', 'erasure_probes')
$$, 'every table holding personal data reaches its person (export and deletion cover it)');

SELECT col_is_unique('public', 'stripe_events', 'stripe_event_id', 'unique Stripe event id');
SELECT col_is_unique('public', 'checkout_sessions', 'stripe_checkout_session_id', 'unique checkout session id');
SELECT col_is_unique('public', 'payments', 'stripe_payment_intent_id', 'unique payment intent');
SELECT col_is_unique('public', 'payments', 'checkout_session_id', 'one payment per checkout session');
SELECT col_is_unique('public', 'entitlements', ARRAY['payment_id', 'product_id'], 'one entitlement per (payment, product)');
SELECT ok((SELECT indisunique FROM pg_index WHERE indexrelid = 'public.delivery_jobs_idempotency_key'::regclass),
          'unique job idempotency key (a partial unique index: keyless jobs hold no entry)');
SELECT col_is_unique('public', 'delivery_jobs', 'support_ref', 'unique support reference');
SELECT col_is_unique('public', 'products', 'stripe_product_id', 'unique Stripe product id');
SELECT col_is_unique('public', 'prices', 'stripe_price_id', 'unique Stripe price id');
SELECT col_is_unique('public', 'purchase_links', 'slug', 'unique purchase link slug');
SELECT col_is_unique('public', 'email_messages', 'message_id', 'unique Message-ID');
SELECT col_is_unique('public', 'oracle_artifacts', 'share_token', 'unique share token');
SELECT col_is_unique('public', 'erasure_tombstones', 'subject_hmac', 'one tombstone per subject');

SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname IN ('public', 'scrollkeep')
     AND NOT EXISTS (SELECT FROM unnest(coalesce(p.proconfig, '{}')) c WHERE c LIKE 'search_path=%')
$$, 'every function in public and scrollkeep fixes its search_path');
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'public'
$$, 'no function in public (PostgREST would expose it as RPC)');
SELECT has_function('scrollkeep', 'enqueue_job',
                    ARRAY['text', 'jsonb', 'text', 'timestamp with time zone', 'smallint', 'timestamp with time zone'],
                    'scrollkeep.enqueue_job(kind, payload, idempotency_key, run_at, priority, deliver_by) exists');
SELECT ok((SELECT indexdef LIKE '%WHERE (status = ''queued''::text)%' FROM pg_indexes
            WHERE schemaname = 'public' AND indexname = 'delivery_jobs_due'),
          'a partial index covers only queued jobs for the claim');

SELECT * FROM finish();
ROLLBACK;
