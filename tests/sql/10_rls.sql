-- Row Level Security, played by anon, person A, person B and service_role against every
-- table in public: anon reads and writes nothing; a person writes nothing directly and reads
-- only their own rows, and only where a person should; service_role reads and writes.
BEGIN;
SET search_path = tap, public;

SELECT plan(
  1
  + (SELECT count(*)::int FROM tap.public_tables()) * 6
  + (SELECT count(*)::int FROM tap.person_readable()) * 3
  + (SELECT count(*)::int FROM tap.public_tables() t WHERE t NOT IN (SELECT tap.person_readable()))
  + 2 + 5 + 2 + 3
);

SELECT lives_ok('SELECT tap.seed()', 'fixtures: two people with a row in every table');

-- anon: nothing at all.
SELECT is(tap.state_as('anon', NULL, format('SELECT 1 FROM %s LIMIT 1', t)), '42501',
          format('anon cannot read %s', t))
  FROM tap.public_tables() t;
SELECT is(tap.state_as('anon', NULL, format('INSERT INTO %s DEFAULT VALUES', t)), '42501',
          format('anon cannot write %s', t))
  FROM tap.public_tables() t;

-- A person writes nothing directly: the server writes as service_role.
SELECT is(tap.state_as('authenticated', tap.person_a(), format('INSERT INTO %s DEFAULT VALUES', t)), '42501',
          format('a person cannot insert into %s', t))
  FROM tap.public_tables() t;
SELECT is(tap.state_as('authenticated', tap.person_a(),
                       format('UPDATE %s SET %I = %I', t, a.attname, a.attname)), '42501',
          format('a person cannot update %s', t))
  FROM tap.public_tables() t
  JOIN LATERAL (SELECT attname FROM pg_attribute
                 WHERE attrelid = t AND attnum > 0 AND NOT attisdropped AND attidentity = ''
                 ORDER BY attnum LIMIT 1) a ON true;
SELECT is(tap.state_as('authenticated', tap.person_a(), format('DELETE FROM %s', t)), '42501',
          format('a person cannot delete from %s', t))
  FROM tap.public_tables() t;

-- service_role sees every row.
SELECT is(tap.count_as('service_role', NULL, format('SELECT count(*) FROM %s', t)),
          tap.count_as('postgres', NULL, format('SELECT count(*) FROM %s', t)),
          format('service_role reads all of %s', t))
  FROM tap.public_tables() t;

-- A person reads their own rows where a person should, and never another's.
SELECT is(tap.count_as('authenticated', tap.person_a(), format('SELECT count(*) FROM %s', t)),
          tap.count_as('postgres', NULL, format('SELECT count(*) FROM %s WHERE ', t)
                                        || format(tap.owner_filter(t), tap.person_a())),
          format('person A reads exactly their own rows of %s', t))
  FROM tap.person_readable() t;
SELECT cmp_ok(tap.count_as('postgres', NULL, format('SELECT count(*) FROM %s WHERE ', t)
                                        || format(tap.owner_filter(t), tap.person_a())), '>', 0::bigint,
              format('the fixtures give A rows in %s', t))
  FROM tap.person_readable() t;
SELECT is(tap.count_as('authenticated', tap.person_a(), format('SELECT count(*) FROM %s WHERE ', t)
                                        || format(tap.owner_filter(t), tap.person_b())), 0::bigint,
          format('person A sees none of B''s rows in %s', t))
  FROM tap.person_readable() t;

-- Operational tables are not a person's to read at all.
SELECT is(tap.state_as('authenticated', tap.person_a(), format('SELECT 1 FROM %s LIMIT 1', t)), '42501',
          format('a person cannot read %s', t))
  FROM tap.public_tables() t WHERE t NOT IN (SELECT tap.person_readable());

-- The consent view applies the ledger's RLS to its reader.
SELECT is(tap.count_as('authenticated', tap.person_a(), 'SELECT count(*) FROM consent_current'), 4::bigint,
          'person A sees their four current consents');
SELECT is(tap.count_as('authenticated', tap.person_b(),
                       format('SELECT count(*) FROM consent_current WHERE user_id = %L', tap.person_a())), 0::bigint,
          'person B sees none of A''s consents through the view');

-- What a person cannot write, the server can.
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO payments (checkout_session_id, user_id, subject_surrogate, amount, currency, status)
  SELECT id, user_id, subject_surrogate, 100, 'eur', 'pending' FROM checkout_sessions
   WHERE id NOT IN (SELECT checkout_session_id FROM payments) LIMIT 1
$$), 'ok', 'service_role can write payments');
SELECT is(tap.state_as('service_role', NULL,
                       format('UPDATE entitlements SET status = %L WHERE user_id = %L', 'held', tap.person_a())),
          'ok', 'service_role can write entitlements');
SELECT is(tap.state_as('service_role', NULL, $$ SELECT scrollkeep.enqueue_job('receipt_email_job', '{}') $$),
          'ok', 'service_role can enqueue jobs');
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO stripe_events (stripe_event_id, type, livemode, payload)
  VALUES ('evt_Service', 'charge.refunded', false, '{}')
$$), 'ok', 'service_role can store Stripe events');
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO admin_audit_events (actor, actor_role, action) VALUES ('ops', 'operator', 'job.retry')
$$), 'ok', 'service_role can append audit events');

-- The money's audit batches are written by the ledger's trigger functions alone (definer
-- rights): no API role reads or writes them, and a payment still lands in one.
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO scrollkeep.audit_outbox_batches (events) VALUES ('{}')
$$), '42501', 'service_role cannot write the audit batches itself');
SELECT is(tap.state_as('service_role', NULL, 'SELECT count(*) FROM scrollkeep.audit_outbox_batches'),
          '42501', 'nor read them');
SELECT is(tap.state_as('service_role', NULL, $$
  WITH s AS (INSERT INTO checkout_sessions (stripe_checkout_session_id, purchase_link_id, idempotency_key)
             SELECT 'cs_batch_probe', purchase_link_id, 'batch-probe-key' FROM checkout_sessions LIMIT 1
             RETURNING id, subject_surrogate)
  INSERT INTO payments (checkout_session_id, stripe_payment_intent_id, subject_surrogate, amount, currency, status)
  SELECT id, 'pi_batch_probe', subject_surrogate, 1, 'eur', 'paid' FROM s
$$), 'ok', 'a payment written as service_role records its audit event through the batch');

-- The AI writer (the AI contract): INSERT on its three output tables' columns, nothing else
-- anywhere; and no table privilege at all, so a new grant fails here first.
SELECT is_empty($$
  SELECT table_schema, table_name, privilege_type FROM information_schema.role_table_grants
   WHERE grantee = 'scrollkeep_ai_writer'
$$, 'scrollkeep_ai_writer holds no table-wide privilege');
SELECT set_eq($$
  SELECT DISTINCT table_name::text, privilege_type::text FROM information_schema.role_column_grants
   WHERE grantee = 'scrollkeep_ai_writer'
$$, $$ VALUES ('readings', 'INSERT'), ('echoes', 'INSERT'), ('council_voices', 'INSERT') $$,
  'scrollkeep_ai_writer may only insert into readings, echoes and council_voices');

SELECT * FROM finish();
ROLLBACK;
