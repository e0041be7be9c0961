-- tests/sql/support/helpers.sql — loaded once into the SQL test database (schema tap, beside
-- pgTAP) by tests/run. Not a test file itself.
--
-- tap.state_as() and tap.count_as() play a role: they switch to it inside a subtransaction,
-- run the statement, and always roll back (which also restores the role), so a test can try
-- a write as anon or as a person and then assert on the outcome as the superuser. pgTAP's own
-- bookkeeping tables belong to the superuser, so assertions must not run under another role.

SET search_path = tap, public;

CREATE FUNCTION tap.person_a() RETURNS uuid LANGUAGE sql IMMUTABLE
  AS $$ SELECT '00000000-0000-4000-8000-00000000000a'::uuid $$;
CREATE FUNCTION tap.person_b() RETURNS uuid LANGUAGE sql IMMUTABLE
  AS $$ SELECT '00000000-0000-4000-8000-00000000000b'::uuid $$;

-- The claims PostgREST would set for a user (or none).
CREATE FUNCTION tap.claims(p_role text, p_user uuid) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE WHEN p_user IS NULL THEN '' ELSE
          json_build_object('sub', p_user, 'role', p_role, 'aud', 'authenticated')::text END $$;

-- Run p_sql as p_role (with p_user's claims) and roll it back: 'ok' or the SQLSTATE.
CREATE FUNCTION tap.state_as(p_role text, p_user uuid, p_sql text) RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  outcome text;
BEGIN
  BEGIN
    PERFORM set_config('request.jwt.claims', tap.claims(p_role, p_user), true);
    PERFORM set_config('role', p_role, true);
    EXECUTE p_sql;
    RAISE EXCEPTION 'roll back' USING ERRCODE = 'TAPOK';
  EXCEPTION WHEN OTHERS THEN
    outcome := CASE WHEN SQLSTATE = 'TAPOK' THEN 'ok' ELSE SQLSTATE END;
  END;
  RETURN outcome;
END $$;

-- Run p_sql (which returns one number) as p_role and p_user: the number, or -1 on an error.
CREATE FUNCTION tap.count_as(p_role text, p_user uuid, p_sql text) RETURNS bigint
  LANGUAGE plpgsql AS $$
DECLARE
  n bigint := -1;
BEGIN
  BEGIN
    PERFORM set_config('request.jwt.claims', tap.claims(p_role, p_user), true);
    PERFORM set_config('role', p_role, true);
    EXECUTE p_sql INTO n;
    RAISE EXCEPTION 'roll back' USING ERRCODE = 'TAPOK';
  EXCEPTION WHEN OTHERS THEN
    IF SQLSTATE <> 'TAPOK' THEN
      n := -1;
    END IF;
  END;
  RETURN n;
END $$;

-- Every base table of public, for the tests that must cover all of them.
CREATE FUNCTION tap.public_tables() RETURNS SETOF regclass LANGUAGE sql STABLE AS $$
  SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname
$$;

-- How to find a person's rows in each table a person may read (NULL: not a person's table).
CREATE FUNCTION tap.owner_filter(t regclass) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE t::text
    WHEN 'council_voices' THEN 'session_id IN (SELECT id FROM public.council_sessions WHERE user_id = %L)'
    ELSE CASE WHEN EXISTS (SELECT FROM pg_attribute WHERE attrelid = t AND attname = 'user_id' AND NOT attisdropped)
              THEN 'user_id = %L' END
  END
$$;

-- The tables a signed-in person may read their own rows of, and nothing else.
CREATE FUNCTION tap.person_readable() RETURNS SETOF regclass LANGUAGE sql IMMUTABLE AS $$
  SELECT t::regclass FROM unnest(ARRAY['readings', 'passports', 'passport_stamps', 'echoes',
    'council_sessions', 'council_voices', 'oracle_artifacts', 'consent_events', 'entitlements',
    'deletion_requests', 'data_exports']) t
$$;

-- One row per person in every table that holds personal rows, and a row in every other
-- table. Call inside the test's transaction (it is rolled back with it).
CREATE FUNCTION tap.seed() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  p uuid;
  tag text;
  consent text;
  job bigint;
  product uuid := '00000000-0000-4000-8000-0000000000c1';
  price uuid := '00000000-0000-4000-8000-0000000000c2';
  link uuid := '00000000-0000-4000-8000-0000000000c3';
BEGIN
  INSERT INTO public.products (id, stripe_product_id, code, layer, name)
    VALUES (product, 'prod_TestOracle', 'reading_pdf', 'artifacts', 'Reading PDF');
  INSERT INTO public.prices (id, stripe_price_id, product_id, currency, unit_amount)
    VALUES (price, 'price_TestOracle', product, 'eur', 900);
  INSERT INTO public.purchase_links (id, slug, price_id, unlock_route, channels)
    VALUES (link, 'reading-pdf', price, '/reading/pdf', ARRAY['pdf', 'receipt']);
  INSERT INTO public.stripe_events (stripe_event_id, type, livemode, payload)
    VALUES ('evt_Test1', 'checkout.session.completed', false, '{"id": "evt_Test1"}');
  INSERT INTO public.erasure_tombstones (subject_hmac, key_id)
    VALUES (repeat('ab', 32), 'test');
  INSERT INTO public.admin_audit_events (actor, actor_role, action, reason)
    VALUES ('ops', 'operator', 'test.seed', 'fixtures');

  FOREACH p IN ARRAY ARRAY[tap.person_a(), tap.person_b()] LOOP
    tag := right(p::text, 1); -- 'a' or 'b'
    INSERT INTO auth.users (id, email) VALUES (p, 'person-' || tag || '@example.test');
    FOREACH consent IN ARRAY ARRAY['email_delivery', 'passport_sync', 'public_share', 'gift_delivery'] LOOP
      INSERT INTO public.consent_events (user_id, purpose, action, notice_version, notice_sha256,
                                         language, jurisdiction, method, actor, source)
        VALUES (p, consent, 'granted', 'v1', repeat('0', 64), 'en', 'DE', 'web_form', 'person', 'site');
    END LOOP;
    INSERT INTO public.readings (id, user_id, question, answer, spread, public_title, public_line, sealed_at, seal_sha256)
      VALUES (('00000000-0000-4000-8000-0000000001' || tag || tag)::uuid, p,
              'private question of ' || tag, 'private answer for ' || tag,
              '[{"card": "The Star", "position": "present", "reversed": false}]',
              'The Star', 'Hope returns', now(), repeat('1', 64));
    INSERT INTO public.passports (user_id) VALUES (p);
    INSERT INTO public.passport_stamps (user_id, reading_id, kind, label)
      VALUES (p, ('00000000-0000-4000-8000-0000000001' || tag || tag)::uuid, 'reading', 'The Star');
    INSERT INTO public.echoes (user_id, reading_id, scheduled_for)
      VALUES (p, ('00000000-0000-4000-8000-0000000001' || tag || tag)::uuid, now() + interval '7 days');
    INSERT INTO public.council_sessions (id, user_id, reading_id)
      VALUES (('00000000-0000-4000-8000-0000000002' || tag || tag)::uuid, p,
              ('00000000-0000-4000-8000-0000000001' || tag || tag)::uuid);
    INSERT INTO public.council_voices (session_id, position, voice, body)
      VALUES (('00000000-0000-4000-8000-0000000002' || tag || tag)::uuid, 1, 'The Hermit', 'a private voice');
    INSERT INTO public.oracle_artifacts (id, user_id, reading_id, kind, visibility, request_key, public_fields, share_token)
      VALUES (('00000000-0000-4000-8000-0000000003' || tag || tag)::uuid, p,
              ('00000000-0000-4000-8000-0000000001' || tag || tag)::uuid, 'share_card', 'public', 'share',
              '{"public_title": "The Star"}', 'tok' || tag || repeat('x', 39));
    INSERT INTO public.oracle_artifacts (id, user_id, reading_id, kind, visibility, request_key)
      VALUES (('00000000-0000-4000-8000-0000000004' || tag || tag)::uuid, p,
              ('00000000-0000-4000-8000-0000000001' || tag || tag)::uuid, 'gift', 'recipient', 'gift-1');
    INSERT INTO public.gift_recipients (artifact_id, user_id, email, name, message)
      VALUES (('00000000-0000-4000-8000-0000000004' || tag || tag)::uuid, p, 'friend-' || tag || '@example.test',
              'Friend', 'for you');
    job := scrollkeep.enqueue_job('pdf_render_job', jsonb_build_object('user_id', p), 'seed-' || tag);
    INSERT INTO public.delivery_attempts (job_id, attempt, worker) VALUES (job, 1, 'seed-worker');
    INSERT INTO public.email_messages (job_id, user_id, template, recipient_kind, recipient_ref, subject, message_id)
      VALUES (job, p, 'receipt', 'person', p, 'Your receipt', '<seed-' || tag || '@scrollkeep.test>');
    INSERT INTO public.checkout_sessions (id, stripe_checkout_session_id, user_id, purchase_link_id, idempotency_key)
      VALUES (('00000000-0000-4000-8000-0000000005' || tag || tag)::uuid, 'cs_test_' || tag, p, link, 'checkout-' || tag || '-key');
    INSERT INTO public.payments (id, checkout_session_id, stripe_payment_intent_id, user_id, subject_surrogate, amount, currency, status)
      VALUES (('00000000-0000-4000-8000-0000000006' || tag || tag)::uuid,
              ('00000000-0000-4000-8000-0000000005' || tag || tag)::uuid, 'pi_test_' || tag, p, gen_random_uuid(), 900, 'eur', 'paid');
    INSERT INTO public.entitlements (payment_id, product_id, user_id, subject_surrogate, unlock_route, status)
      VALUES (('00000000-0000-4000-8000-0000000006' || tag || tag)::uuid, product, p, gen_random_uuid(), '/reading/pdf', 'active');
    INSERT INTO public.deletion_requests (user_id, source, due_at)
      VALUES (p, 'api', now() + interval '30 days');
    INSERT INTO public.data_exports (user_id, source, due_at)
      VALUES (p, 'api', now() + interval '30 days');
    INSERT INTO public.ai_calls (task, user_id, fields_sent, input_sha256, output_table, status)
      VALUES ('council_voice', p, ARRAY['question'], repeat('2', 64), 'council_voices', 'succeeded');
  END LOOP;
END $$;
