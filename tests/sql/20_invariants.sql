-- The invariants the database holds, each tried and refused (and the one legal way through
-- shown to work where there is one). Writes run as service_role, the server's role, so the
-- refusals come from constraints and triggers, not from missing privileges.
BEGIN;
SET search_path = tap, public;
SELECT plan(45);

SELECT lives_ok('SELECT tap.seed()', 'fixtures');

-- Money and delivery: unique keys.
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO stripe_events (stripe_event_id, type, livemode, payload) VALUES ('evt_Test1', 'charge.refunded', false, '{}')
$$), '23505', 'a Stripe event id is stored once');
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO checkout_sessions (stripe_checkout_session_id, user_id, purchase_link_id, idempotency_key)
  SELECT 'cs_test_a', user_id, purchase_link_id, 'another-key-1' FROM checkout_sessions LIMIT 1
$$), '23505', 'a checkout session id is stored once');
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO payments (checkout_session_id, stripe_payment_intent_id, subject_surrogate, amount, currency, status)
  SELECT id, 'pi_fresh', subject_surrogate, 1, 'eur', 'paid' FROM checkout_sessions WHERE stripe_checkout_session_id = 'cs_test_a'
$$), '23505', 'a checkout session has one payment');
SELECT is(tap.state_as('service_role', NULL, $$
  WITH s AS (INSERT INTO checkout_sessions (stripe_checkout_session_id, purchase_link_id, idempotency_key)
             SELECT 'cs_test_new', purchase_link_id, 'another-key-2' FROM checkout_sessions LIMIT 1 RETURNING id, subject_surrogate)
  INSERT INTO payments (checkout_session_id, stripe_payment_intent_id, subject_surrogate, amount, currency, status)
  SELECT id, 'pi_test_a', subject_surrogate, 1, 'eur', 'paid' FROM s
$$), '23505', 'a payment intent is recorded once');
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO entitlements (payment_id, product_id, subject_surrogate, unlock_route, status)
  SELECT payment_id, product_id, subject_surrogate, unlock_route, 'active' FROM entitlements LIMIT 1
$$), '23505', 'one entitlement per (payment, product)');
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO checkout_sessions (stripe_checkout_session_id, user_id, purchase_link_id, idempotency_key)
  SELECT 'cs_test_second_open', user_id, purchase_link_id, 'another-key-3' FROM checkout_sessions WHERE stripe_checkout_session_id = 'cs_test_a'
$$), '23505', 'one open checkout session per person and purchase link');
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO delivery_jobs (kind, max_attempts, idempotency_key, support_ref) VALUES ('pdf_render_job', 5, 'seed-a', 'SK-0000-0000')
$$), '23505', 'a job idempotency key is used once');
SELECT is((SELECT count(DISTINCT scrollkeep.support_ref(i)) FROM generate_series(1, 50000) i), 50000::bigint,
          'support references are distinct (a permutation of the job id)');
SELECT is((SELECT string_agg(i || '=' || scrollkeep.support_ref(i), ' ' ORDER BY i)
             FROM unnest(ARRAY[0, 1, 2, 1048576, 123456789, 987654321012, 1099511627775]::bigint[]) i),
          '0=SK-0PJ3-N61V 1=SK-EV4X-ZEKY 2=SK-T4MG-CZ8A 1048576=SK-1VKC-C4MZ 123456789=SK-3M4Q-F481 '
          '987654321012=SK-MY2P-BG0X 1099511627775=SK-ZQEE-J2Y3',
          'a job''s support reference never changes (the values given out before stay the same)');
SELECT ok((SELECT count(*) > 0 AND bool_and(support_ref = scrollkeep.support_ref(id)) FROM delivery_jobs),
          'the enqueue trigger gives each job scrollkeep.support_ref of its id');
SELECT is(scrollkeep.enqueue_job('pdf_render_job', '{}', 'seed-a'),
          (SELECT id FROM delivery_jobs WHERE idempotency_key = 'seed-a'),
          'enqueue with a used idempotency key returns the existing job');

-- A sealed reading never changes, except by anonymization.
SELECT is(tap.state_as('service_role', NULL, format(
  'UPDATE readings SET answer = %L WHERE user_id = %L', 'rewritten', tap.person_a())), 'SKS01',
  'a sealed reading''s answer cannot change');
SELECT is(tap.state_as('service_role', NULL, format(
  'UPDATE readings SET public_title = %L WHERE user_id = %L', 'Other', tap.person_a())), 'SKS01',
  'a sealed reading''s public title cannot change');
SELECT is(tap.state_as('postgres', NULL, format(
  'DELETE FROM readings WHERE user_id = %L', tap.person_a())), 'SKS01',
  'a sealed reading cannot be deleted');
SELECT is(tap.state_as('service_role', NULL, format(
  'UPDATE readings SET user_id = NULL, question = NULL, answer = NULL, anonymized_at = now(), public_line = %L WHERE user_id = %L',
  'sneaked in', tap.person_a())), 'SKS01',
  'anonymization cannot carry another change');
SELECT is(tap.state_as('service_role', NULL, format(
  'UPDATE readings SET user_id = NULL, question = NULL, answer = NULL, anonymized_at = now() WHERE user_id = %L',
  tap.person_a())), 'ok',
  'anonymization (user, question and answer cleared together) is allowed');
SELECT is(tap.state_as('service_role', NULL, format($$
  INSERT INTO readings (id, user_id, question, answer, spread, public_title, public_line)
  VALUES ('00000000-0000-4000-8000-0000000009ff', %L, 'q', 'a',
          '[{"card": "The Sun", "position": "past", "reversed": true}]', 't', 'l');
  UPDATE readings SET question = NULL WHERE id = '00000000-0000-4000-8000-0000000009ff'
$$, tap.person_b())), '23514', 'half an anonymization is refused by the CHECK (unsealed reading)');
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO readings (user_id, question, answer, spread, public_title, public_line)
  SELECT user_id, 'q', 'a', '[{"card": "The Star", "position": "present", "reversed": "no"}]', 't', 'l'
    FROM readings WHERE user_id IS NOT NULL LIMIT 1
$$), '23514', 'a spread must match its schema (reversed is a boolean)');
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO readings (user_id, question, answer, spread, public_title, public_line)
  SELECT user_id, 'q', 'a', '[{"card": "The Star", "position": "present", "reversed": false, "question": "x"}]', 't', 'l'
    FROM readings WHERE user_id IS NOT NULL LIMIT 1
$$), '23514', 'a spread card carries no field outside its schema');

-- The consent ledger is append-only; only the forgetting path erases, and only one person.
SELECT is(tap.state_as('service_role', NULL, 'DELETE FROM consent_events'), '42501',
          'service_role holds no DELETE on the consent ledger');
SELECT is(tap.state_as('postgres', NULL, 'DELETE FROM consent_events'), 'SKA01',
          'not even the owner deletes from the consent ledger');
SELECT is(tap.state_as('postgres', NULL, $$UPDATE consent_events SET action = 'withdrawn'$$), 'SKA01',
          'consent events cannot be rewritten');
SELECT is(tap.state_as('postgres', NULL, 'TRUNCATE consent_events CASCADE'), 'SKA01',
          'the consent ledger cannot be truncated');
SELECT is(tap.count_as('service_role', NULL, format(
  'SELECT scrollkeep.erase_consent_ledger(%L)', tap.person_a())), 4::bigint,
  'the forgetting path erases the person''s four events');
SELECT is(tap.state_as('service_role', NULL, format($$
  DO $d$ BEGIN
    PERFORM scrollkeep.erase_consent_ledger(%L);
    IF (SELECT count(*) FROM public.consent_events WHERE user_id = %L) <> 4 THEN
      RAISE EXCEPTION 'B lost events' USING ERRCODE = 'XXLED';
    END IF;
  END $d$
$$, tap.person_a(), tap.person_b())), 'ok', 'erasing A leaves B''s ledger whole');
SELECT is(tap.state_as('postgres', NULL, format($$
  DO $d$ BEGIN PERFORM scrollkeep.erase_consent_ledger(%L); DELETE FROM public.consent_events WHERE user_id = %L; END $d$
$$, tap.person_a(), tap.person_b())), 'SKA01',
  'after erasing one person the ledger is append-only again for everyone else');

-- The audit trail is append-only and hash-chained.
SELECT is(tap.state_as('postgres', NULL, $$UPDATE admin_audit_events SET reason = 'edited'$$), 'SKA01',
          'audit events cannot be rewritten');
SELECT is(tap.state_as('postgres', NULL, 'DELETE FROM admin_audit_events'), 'SKA01',
          'audit events cannot be deleted');
SELECT is(tap.state_as('postgres', NULL, 'TRUNCATE admin_audit_events'), 'SKA01',
          'the audit trail cannot be truncated');
SELECT lives_ok($$INSERT INTO admin_audit_events (actor, actor_role, action, details)
                  VALUES ('system', 'system', 'test.second', '{"count": 2}')$$, 'a second audit event');
SELECT is_empty($$
  SELECT e.chain_seq FROM admin_audit_events e
    LEFT JOIN admin_audit_events p ON p.chain_seq = e.chain_seq - 1
   WHERE e.prev_hash IS DISTINCT FROM p.row_hash
      OR e.row_hash <> scrollkeep.audit_row_hash(e.prev_hash, e.chain_seq, e.occurred_at, e.actor,
                                                 e.actor_role, e.action, e.subject_type, e.subject_id,
                                                 e.reason, e.details)
$$, 'each audit row links to the previous row and its hash recomputes');
SELECT is(tap.state_as('service_role', NULL, $$
  INSERT INTO admin_audit_events (actor, actor_role, action, reason) VALUES ('ops', 'operator', 'job.retry', 'asked by someone@example.com')
$$), '23514', 'an e-mail address cannot enter an audit reason');

-- Consent gates held by the database.
SELECT is(tap.state_as('service_role', NULL, format($$
  INSERT INTO consent_events (user_id, purpose, action, notice_version, notice_sha256, language, jurisdiction, method, actor, source)
  VALUES (%L, 'passport_sync', 'withdrawn', 'v1', repeat('0', 64), 'en', 'DE', 'web_form', 'person', 'site');
  INSERT INTO passport_stamps (user_id, kind, label) VALUES (%L, 'purchase', 'Shop')
$$, tap.person_b(), tap.person_b())), 'SKC01', 'no passport stamp without passport_sync');
SELECT is(tap.state_as('service_role', NULL, format($$
  INSERT INTO consent_events (user_id, purpose, action, notice_version, notice_sha256, language, jurisdiction, method, actor, source)
  VALUES (%L, 'public_share', 'withdrawn', 'v1', repeat('0', 64), 'en', 'DE', 'web_form', 'person', 'site');
  UPDATE oracle_artifacts SET share_token = repeat('z', 43) WHERE user_id = %L AND kind = 'share_card'
$$, tap.person_b(), tap.person_b())), 'SKC01', 'no share token without public_share');
SELECT is(tap.count_as('service_role', NULL, format($$
  SELECT count(*) FROM oracle_artifacts WHERE user_id = %L AND share_token IS NOT NULL
$$, tap.person_b())), 1::bigint, 'before withdrawal B has a live share token');
SELECT is(tap.state_as('service_role', NULL, format($$
  DO $d$ BEGIN
    INSERT INTO public.consent_events (user_id, purpose, action, notice_version, notice_sha256, language, jurisdiction, method, actor, source)
    VALUES (%L, 'public_share', 'withdrawn', 'v1', repeat('0', 64), 'en', 'DE', 'web_form', 'person', 'site');
    IF EXISTS (SELECT FROM public.oracle_artifacts WHERE user_id = %L AND share_token IS NOT NULL) THEN
      RAISE EXCEPTION 'token survived' USING ERRCODE = 'XXTOK';
    END IF;
  END $d$
$$, tap.person_b(), tap.person_b())), 'ok', 'withdrawing public_share kills the share tokens at once');
SELECT is(tap.state_as('service_role', NULL, format($$
  INSERT INTO consent_events (user_id, purpose, action, notice_version, notice_sha256, language, jurisdiction, method, actor, source)
  VALUES (%L, 'gift_delivery', 'withdrawn', 'v1', repeat('0', 64), 'en', 'DE', 'web_form', 'person', 'site');
  INSERT INTO oracle_artifacts (id, user_id, reading_id, kind, visibility, request_key)
  SELECT gen_random_uuid(), user_id, reading_id, 'gift', 'recipient', 'gift-2' FROM oracle_artifacts WHERE user_id = %L LIMIT 1;
  INSERT INTO gift_recipients (artifact_id, user_id, email)
  SELECT id, user_id, 'someone@example.test' FROM oracle_artifacts WHERE request_key = 'gift-2'
$$, tap.person_b(), tap.person_b())), 'SKC01', 'no gift recipient without gift_delivery');

-- Enum-like columns, payload and public-field hygiene.
SELECT is(tap.state_as('service_role', NULL, $$UPDATE delivery_jobs SET status = 'lost'$$), '23514',
          'a job status outside the list is refused');
SELECT is(tap.state_as('service_role', NULL, $$UPDATE payments SET status = 'maybe'$$), '23514',
          'a payment status outside the list is refused');
SELECT is(tap.state_as('service_role', NULL, $$SELECT scrollkeep.enqueue_job('pdf_render_job', '{"email": "x@example.test"}')$$),
          '23514', 'a job payload cannot carry an e-mail field');
SELECT is(tap.state_as('service_role', NULL, $$UPDATE oracle_artifacts SET public_fields = '{"question": "x"}'$$),
          '23514', 'public fields come from the allow-list only');
SELECT is(tap.state_as('service_role', NULL, format(
  'UPDATE deletion_requests SET status = %L WHERE user_id = %L', 'completed', tap.person_a())), 'SKT01',
  'a deletion request cannot jump from requested to completed');
SELECT is(tap.state_as('service_role', NULL, format(
  'UPDATE deletion_requests SET status = %L, verified_at = now() WHERE user_id = %L', 'verified', tap.person_a())), 'ok',
  'requested -> verified is allowed');
SELECT is(tap.state_as('postgres', NULL, format('DELETE FROM auth.users WHERE id = %L', tap.person_a())), '23503',
          'a person with readings cannot be deleted outside the forgetting workflow');

SELECT * FROM finish();
ROLLBACK;
