-- Forgetting the person, provably; exporting them, completely.
--
--   scrollkeep.subject_rows(schema, table)  how to find a person's rows in a table: the column
--                                            classification says which tables hold personal
--                                            data, this says how each reaches the person (a
--                                            pgTAP test fails for a table it cannot reach).
--   scrollkeep.export_subject(user)         everything held about the person, as one JSON
--                                            document, driven by the two above.
--   scrollkeep.request_export / request_deletion / cancel_deletion
--                                            the data-subject requests and their jobs.
--   scrollkeep.forget_step(request, hmac)   one step of a deletion, in its own transaction;
--                                            the request's `step` says what is done, so a
--                                            crash at any point resumes at the next step.
--   scrollkeep.erasure_probes               what the proof looks for, collected before the
--                                            first deletion; it lives only while the request
--                                            runs and is emptied when the proof is stored.
--   scrollkeep.erasure_scan(probes)         every text, JSON and uuid column of every table in
--                                            public, scrollkeep and auth: where a probe still
--                                            appears, as counts and locations.

-- ---- where a person's rows are ----

-- The predicate (with $1 the person's id) that selects a person's rows in a table holding
-- personal data, or NULL when the table cannot reach a person. A table with a user_id column
-- reaches them directly; the others name their path here.
CREATE FUNCTION scrollkeep.subject_rows(p_schema text, p_table text) RETURNS text
  LANGUAGE sql STABLE SET search_path = ''
AS $$
  SELECT CASE p_schema || '.' || p_table
    WHEN 'public.council_voices' THEN
      'session_id IN (SELECT id FROM public.council_sessions WHERE user_id = $1)'
    WHEN 'public.delivery_attempts' THEN
      'job_id IN (SELECT id FROM public.delivery_jobs WHERE user_id = $1)'
    WHEN 'scrollkeep.entitlement_changes' THEN
      'entitlement_id IN (SELECT id FROM public.entitlements WHERE user_id = $1)'
    WHEN 'scrollkeep.payment_facts' THEN
      'payment_intent IN (SELECT stripe_payment_intent_id FROM public.payments WHERE user_id = $1)'
    WHEN 'public.stripe_events' THEN
      'object_id IN (SELECT stripe_checkout_session_id FROM public.checkout_sessions WHERE user_id = $1)'
      ' OR payload #>> ''{data,object,payment_intent}'' IN'
      ' (SELECT stripe_payment_intent_id FROM public.payments WHERE user_id = $1)'
    WHEN 'scrollkeep.erasure_probes' THEN NULL -- the proof's own working set, never exported
    ELSE CASE WHEN EXISTS (SELECT 1 FROM scrollkeep.column_classes k
                            WHERE k.table_schema = p_schema AND k.table_name = p_table
                              AND k.column_name = 'user_id')
              THEN 'user_id = $1' END
  END
$$;

-- The tables that hold personal data: a column classified pii or private.
CREATE VIEW scrollkeep.personal_tables WITH (security_invoker = true) AS
SELECT DISTINCT k.table_schema, k.table_name
  FROM scrollkeep.column_classes k
 WHERE k.class IN ('pii', 'private');
REVOKE ALL ON scrollkeep.personal_tables FROM PUBLIC;
GRANT SELECT ON scrollkeep.personal_tables TO service_role;

-- ---- the export ----

-- A consent event as a consent receipt (the Kantara Consent Receipt's fields, with ISO/IEC TS
-- 27560's notice, method and validity).
CREATE FUNCTION scrollkeep.consent_receipt(e public.consent_events) RETURNS jsonb
  LANGUAGE sql STABLE SET search_path = ''
AS $$
  SELECT jsonb_build_object(
    'version', 'KI-CR-v1.1.0',
    'receipt_id', e.receipt_id,
    'consent_timestamp', extract(epoch FROM e.recorded_at)::bigint,
    'jurisdiction', e.jurisdiction,
    'collection_method', e.method,
    'pii_principal_id', e.user_id,
    'caused_by', e.actor,
    'source', e.source,
    'notice', jsonb_build_object('version', e.notice_version, 'language', e.language,
                                 'sha256', e.notice_sha256),
    'services', jsonb_build_array(jsonb_build_object(
      'service', 'scrollkeep',
      'purposes', jsonb_build_array(jsonb_build_object(
        'purpose', e.purpose, 'consent_type', 'explicit', 'action', e.action,
        'valid_from', e.valid_from, 'valid_until', e.valid_until)))))
$$;

-- Everything held about the person: the account, then every personal table's rows (all their
-- columns), the consent history as receipts, and the classification that drove it. Files are
-- added by the caller (scrollkeep's C side reads the artifact store).
CREATE FUNCTION scrollkeep.export_subject(p_user uuid) RETURNS jsonb
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  t record;
  pred text;
  rows jsonb;
  tables jsonb := '{}';
BEGIN
  -- The personal tables, and the money's ledgers that reach the person through them.
  FOR t IN SELECT DISTINCT table_schema, table_name FROM scrollkeep.column_classes
            WHERE class IN ('pii', 'private', 'financial')
            ORDER BY table_schema, table_name LOOP
    pred := scrollkeep.subject_rows(t.table_schema, t.table_name);
    CONTINUE WHEN pred IS NULL;
    EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(x)), ''[]'') FROM %I.%I x WHERE %s',
                   t.table_schema, t.table_name, pred)
       INTO rows USING p_user;
    tables := tables || jsonb_build_object(t.table_schema || '.' || t.table_name, rows);
  END LOOP;
  RETURN jsonb_build_object(
    'format', 'scrollkeep-export/1',
    'subject', p_user,
    'generated_at', now(),
    'account', (SELECT jsonb_build_object('id', u.id, 'email', u.email, 'phone', u.phone,
                                          'created_at', u.created_at)
                  FROM auth.users u WHERE u.id = p_user),
    'tables', tables,
    'consent_receipts', (SELECT coalesce(jsonb_agg(scrollkeep.consent_receipt(e) ORDER BY e.id), '[]')
                           FROM public.consent_events e WHERE e.user_id = p_user),
    'classification', (SELECT jsonb_object_agg(k.table_schema || '.' || k.table_name || '.' || k.column_name,
                                               k.class)
                         FROM scrollkeep.column_classes k
                        WHERE k.class IN ('pii', 'private', 'financial')));
END $$;
REVOKE ALL ON FUNCTION scrollkeep.export_subject(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.export_subject(uuid) TO service_role;

-- ---- the requests ----

-- Open an export for the person and enqueue its job, or return the one still being made.
CREATE FUNCTION scrollkeep.request_export(p_user uuid, p_source text) RETURNS public.data_exports
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  r public.data_exports;
BEGIN
  IF p_user IS NULL OR NOT EXISTS (SELECT 1 FROM auth.users WHERE id = p_user) THEN
    RAISE EXCEPTION 'no such person' USING ERRCODE = 'P0002';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('data_export:' || p_user, 0));
  SELECT * INTO r FROM public.data_exports
   WHERE user_id = p_user AND status IN ('requested', 'running') ORDER BY requested_at LIMIT 1;
  IF FOUND THEN
    RETURN r;
  END IF;
  INSERT INTO public.data_exports (user_id, source, due_at)
  VALUES (p_user, p_source, now() + interval '1 month')
  RETURNING * INTO r;
  PERFORM scrollkeep.enqueue_job('privacy_export_job',
                                 jsonb_build_object('data_export', r.id, 'user_id', p_user),
                                 'privacy-export:' || r.id, now());
  RETURN r;
END $$;

-- Open a deletion for the person: verified (the caller proved who they are: a signed-in
-- person's token, or an operator at the command line), scheduled after the grace period
-- during which the person may cancel, and its job enqueued for then.
CREATE FUNCTION scrollkeep.request_deletion(p_user uuid, p_source text, p_grace interval)
  RETURNS public.deletion_requests
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  r public.deletion_requests;
BEGIN
  IF p_grace < interval '0' OR p_grace > interval '14 days' THEN
    RAISE EXCEPTION 'the grace period is 0 to 14 days' USING ERRCODE = '22023';
  END IF;
  IF p_user IS NULL OR NOT EXISTS (SELECT 1 FROM auth.users WHERE id = p_user) THEN
    RAISE EXCEPTION 'no such person' USING ERRCODE = 'P0002';
  END IF;
  SELECT * INTO r FROM public.deletion_requests
   WHERE user_id = p_user AND status IN ('requested', 'verified', 'scheduled', 'running');
  IF FOUND THEN
    RETURN r;
  END IF;
  INSERT INTO public.deletion_requests (user_id, source, due_at, grace_until)
  VALUES (p_user, p_source, now() + interval '1 month', now() + p_grace)
  RETURNING * INTO r;
  UPDATE public.deletion_requests SET status = 'verified', verified_at = now() WHERE id = r.id;
  UPDATE public.deletion_requests SET status = 'scheduled', scheduled_for = grace_until
   WHERE id = r.id RETURNING * INTO r;
  PERFORM scrollkeep.enqueue_job('privacy_deletion_job', jsonb_build_object('deletion_request', r.id),
                                 'privacy-deletion:' || r.id, r.scheduled_for);
  PERFORM scrollkeep.audit_system_event('scrollkeep', 'privacy.deletion_requested', 'deletion_request',
                                        r.id::text, jsonb_build_object('source', p_source));
  RETURN r;
END $$;

-- Cancel the person's own request while its grace period lasts.
CREATE FUNCTION scrollkeep.cancel_deletion(p_request uuid, p_user uuid) RETURNS public.deletion_requests
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  r public.deletion_requests;
BEGIN
  SELECT * INTO r FROM public.deletion_requests WHERE id = p_request AND user_id = p_user FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such request' USING ERRCODE = 'P0002';
  END IF;
  IF r.status NOT IN ('requested', 'verified', 'scheduled') OR now() >= coalesce(r.grace_until, now()) THEN
    RAISE EXCEPTION 'the request can no longer be cancelled (%)', r.status USING ERRCODE = 'SKT01';
  END IF;
  UPDATE public.deletion_requests SET status = 'cancelled' WHERE id = p_request RETURNING * INTO r;
  UPDATE public.delivery_jobs SET status = 'cancelled', finished_at = now()
   WHERE idempotency_key = 'privacy-deletion:' || p_request AND status = 'queued';
  PERFORM scrollkeep.audit_system_event('scrollkeep', 'privacy.deletion_cancelled', 'deletion_request',
                                        r.id::text, '{}');
  RETURN r;
END $$;

REVOKE ALL ON FUNCTION scrollkeep.request_export(uuid, text), scrollkeep.request_deletion(uuid, text, interval),
                       scrollkeep.cancel_deletion(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.request_export(uuid, text), scrollkeep.request_deletion(uuid, text, interval),
                          scrollkeep.cancel_deletion(uuid, uuid) TO service_role;

-- The signed-in person's own requests (as authenticated: the person is auth.uid(), never a
-- parameter, so no one can ask in another's name).
CREATE FUNCTION scrollkeep.my_export_request() RETURNS public.data_exports
  LANGUAGE sql SECURITY DEFINER SET search_path = ''
AS $$ SELECT scrollkeep.request_export(auth.uid(), 'api') $$;
CREATE FUNCTION scrollkeep.my_deletion_request(p_grace interval) RETURNS public.deletion_requests
  LANGUAGE sql SECURITY DEFINER SET search_path = ''
AS $$ SELECT scrollkeep.request_deletion(auth.uid(), 'api', p_grace) $$;
CREATE FUNCTION scrollkeep.my_deletion_cancel(p_request uuid) RETURNS public.deletion_requests
  LANGUAGE sql SECURITY DEFINER SET search_path = ''
AS $$ SELECT scrollkeep.cancel_deletion(p_request, auth.uid()) $$;
REVOKE ALL ON FUNCTION scrollkeep.my_export_request(), scrollkeep.my_deletion_request(interval),
                       scrollkeep.my_deletion_cancel(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.my_export_request(), scrollkeep.my_deletion_request(interval),
                          scrollkeep.my_deletion_cancel(uuid) TO authenticated;

-- ---- the deletion, a step at a time ----

CREATE TABLE scrollkeep.erasure_probes (
  deletion_request_id uuid NOT NULL REFERENCES public.deletion_requests (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('user_id', 'email', 'question', 'answer', 'gift_email',
                                     'gift_name', 'file')),
  value text NOT NULL CHECK (char_length(value) BETWEEN 1 AND 20000),
  PRIMARY KEY (deletion_request_id, kind, value)
);
ALTER TABLE scrollkeep.erasure_probes ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON scrollkeep.erasure_probes FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON scrollkeep.erasure_probes TO service_role;
CREATE POLICY erasure_probes_service ON scrollkeep.erasure_probes FOR SELECT TO service_role USING (true);
COMMENT ON TABLE scrollkeep.erasure_probes IS 'what the proof looks for while a deletion runs; emptied when it completes';
COMMENT ON COLUMN scrollkeep.erasure_probes.deletion_request_id IS 'operational: the request';
COMMENT ON COLUMN scrollkeep.erasure_probes.kind IS 'operational: which identifier';
COMMENT ON COLUMN scrollkeep.erasure_probes.value IS 'pii: the identifier, until the proof is stored';

-- The person's identifiers as they stand: what the proof looks for, and the files to remove.
CREATE FUNCTION scrollkeep.subject_probes(u uuid) RETURNS TABLE (kind text, value text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT 'user_id', u::text
  UNION SELECT 'email', email FROM auth.users WHERE id = u AND email IS NOT NULL
  UNION SELECT 'question', question FROM public.readings WHERE user_id = u
  UNION SELECT 'answer', answer FROM public.readings WHERE user_id = u
  UNION SELECT 'gift_email', email FROM public.gift_recipients WHERE user_id = u
  UNION SELECT 'gift_name', name FROM public.gift_recipients WHERE user_id = u AND name IS NOT NULL
  UNION SELECT 'file', storage_path FROM public.oracle_artifacts WHERE user_id = u AND storage_path IS NOT NULL
  UNION SELECT 'file', storage_path FROM public.data_exports WHERE user_id = u AND storage_path IS NOT NULL
$$;
REVOKE ALL ON FUNCTION scrollkeep.subject_probes(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.subject_probes(uuid) TO service_role;

-- The steps, in order. 'files' and 'proof' are the C side's (the artifact store is a
-- directory); forget_step refuses to go past 'account_deleted' itself.
CREATE FUNCTION scrollkeep.forget_steps() RETURNS text[]
  LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$
  SELECT ARRAY['collected', 'jobs_cancelled', 'content_deleted', 'pseudonymized', 'stripe_redacted',
               'consent_erased', 'tombstoned', 'account_deleted', 'files_deleted', 'proved']
$$;

-- Add n to the report's counts[section][name].
CREATE FUNCTION scrollkeep.forget_count(p_report jsonb, p_section text, p_name text, p_n bigint)
  RETURNS jsonb
  LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$
  SELECT jsonb_set(coalesce(p_report, '{}'), ARRAY['counts'],
                   coalesce(p_report -> 'counts', '{}')
                   || jsonb_build_object(p_section, coalesce(p_report #> ARRAY['counts', p_section], '{}')
                                                    || jsonb_build_object(p_name, p_n)))
$$;

-- Run the request's next step in the caller's transaction and return its name. p_hmac is the
-- keyed hash of the subject (HMAC-SHA256 under the erasure key, computed by the caller, which
-- holds the key): needed for the 'tombstoned' step only.
CREATE FUNCTION scrollkeep.forget_step(p_request uuid, p_hmac text, p_key_id text) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  r public.deletion_requests;
  steps text[] := scrollkeep.forget_steps();
  next_step text;
  u uuid;
  n bigint;
  rep jsonb;
BEGIN
  SELECT * INTO r FROM public.deletion_requests WHERE id = p_request FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such deletion request' USING ERRCODE = 'P0002';
  END IF;
  IF r.status = 'scheduled' THEN
    UPDATE public.deletion_requests SET status = 'running', started_at = now()
     WHERE id = p_request RETURNING * INTO r;
  END IF;
  IF r.status <> 'running' THEN
    RAISE EXCEPTION 'the deletion request is %', r.status USING ERRCODE = 'SKT01';
  END IF;
  next_step := steps[coalesce(array_position(steps, r.step), 0) + 1];
  IF next_step IN ('files_deleted', 'proved') OR next_step IS NULL THEN
    RETURN r.step; -- the caller's to do
  END IF;
  u := r.user_id;
  rep := coalesce(r.report, '{}');

  IF next_step = 'collected' THEN
    INSERT INTO scrollkeep.erasure_probes (deletion_request_id, kind, value)
    SELECT p_request, x.kind, x.value FROM scrollkeep.subject_probes(u) x
    ON CONFLICT DO NOTHING;
    rep := jsonb_build_object('request', p_request, 'counts', '{}'::jsonb);

  ELSIF next_step = 'jobs_cancelled' THEN
    -- Nothing queued may contact or render for the person; a job running now finds its rows
    -- gone and ends permanently (the handlers treat a missing row as done with nothing sent).
    UPDATE public.delivery_jobs SET status = 'cancelled', finished_at = now(), last_error = 'cancelled: the person was forgotten'
     WHERE user_id = u AND status = 'queued';
    GET DIAGNOSTICS n = ROW_COUNT;
    rep := scrollkeep.forget_count(rep, 'cancelled', 'delivery_jobs', n);

  ELSIF next_step = 'content_deleted' THEN
    DELETE FROM public.council_voices WHERE session_id IN (SELECT id FROM public.council_sessions WHERE user_id = u);
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'deleted', 'council_voices', n);
    DELETE FROM public.council_sessions WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'deleted', 'council_sessions', n);
    DELETE FROM public.echoes WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'deleted', 'echoes', n);
    DELETE FROM public.gift_recipients WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'deleted', 'gift_recipients', n);
    DELETE FROM public.email_messages WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'deleted', 'email_messages', n);
    DELETE FROM public.passport_stamps WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'deleted', 'passport_stamps', n);
    DELETE FROM public.passports WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'deleted', 'passports', n);
    -- Artifacts go with their share tokens; their files are the 'files_deleted' step's.
    DELETE FROM public.oracle_artifacts WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'deleted', 'oracle_artifacts', n);
    DELETE FROM public.data_exports WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'deleted', 'data_exports', n);
    -- The scroll is remembered, the person is not: question and answer go, the reading stays.
    UPDATE public.readings SET user_id = NULL, question = NULL, answer = NULL, anonymized_at = now()
     WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'anonymized', 'readings', n);

  ELSIF next_step = 'pseudonymized' THEN
    -- Kept for tax and accounting, linked only to each row's random surrogate.
    UPDATE public.checkout_sessions SET user_id = NULL WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'pseudonymized', 'checkout_sessions', n);
    UPDATE public.payments SET user_id = NULL WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'pseudonymized', 'payments', n);
    UPDATE public.entitlements SET user_id = NULL WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'pseudonymized', 'entitlements', n);
    UPDATE public.delivery_jobs SET user_id = NULL, payload = payload - 'user_id'
     WHERE user_id = u OR payload ->> 'user_id' = u::text;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'unlinked', 'delivery_jobs', n);
    UPDATE public.ai_calls SET user_id = NULL WHERE user_id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'unlinked', 'ai_calls', n);

  ELSIF next_step = 'stripe_redacted' THEN
    -- Every stored payload that names the person (by id, e-mail or name) loses the buyer's
    -- details and has each remaining mention replaced.
    WITH hit AS (
      SELECT e.id FROM public.stripe_events e
       WHERE EXISTS (SELECT 1 FROM scrollkeep.erasure_probes p
                      WHERE p.deletion_request_id = p_request AND p.kind IN ('user_id', 'email')
                        AND strpos(e.payload::text, p.value) > 0)
    )
    UPDATE public.stripe_events e
       SET payload = (SELECT replace(replace(scrollkeep.redact_stripe_payload(e.payload)::text,
                                             u::text, 'forgotten'),
                                     coalesce((SELECT to_json(p.value)::text FROM scrollkeep.erasure_probes p
                                                WHERE p.deletion_request_id = p_request AND p.kind = 'email'
                                                LIMIT 1), '"\u0000"'),
                                     '"forgotten"')::jsonb),
           redacted_at = coalesce(e.redacted_at, now())
      FROM hit WHERE e.id = hit.id;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'redacted', 'stripe_events', n);

  ELSIF next_step = 'consent_erased' THEN
    rep := scrollkeep.forget_count(rep, 'deleted', 'consent_events', scrollkeep.erase_consent_ledger(u));

  ELSIF next_step = 'tombstoned' THEN
    IF p_hmac IS NULL THEN
      RAISE EXCEPTION 'the tombstone needs the subject''s keyed hash' USING ERRCODE = '22023';
    END IF;
    INSERT INTO public.erasure_tombstones (subject_hmac, key_id, deletion_request_id)
    VALUES (p_hmac, p_key_id, p_request) ON CONFLICT (subject_hmac) DO NOTHING;

  ELSIF next_step = 'account_deleted' THEN
    -- What is left cascades (or is unlinked by SET NULL: this request, delivery history).
    DELETE FROM auth.users WHERE id = u;
    GET DIAGNOSTICS n = ROW_COUNT; rep := scrollkeep.forget_count(rep, 'deleted', 'auth.users', n);
  END IF;

  UPDATE public.deletion_requests SET step = next_step, report = rep WHERE id = p_request;
  RETURN next_step;
END $$;

-- Record the C side's steps: the files are gone ('files_deleted', with their count), or the
-- proof is stored ('proved': the request completes only with zero hits, the probes go, and
-- the report's hash enters the audit chain).
CREATE FUNCTION scrollkeep.forget_finish(p_request uuid, p_step text, p_report jsonb, p_sha256 text)
  RETURNS public.deletion_requests
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  r public.deletion_requests;
BEGIN
  SELECT * INTO r FROM public.deletion_requests WHERE id = p_request FOR UPDATE;
  IF NOT FOUND OR r.status <> 'running' THEN
    RAISE EXCEPTION 'the deletion request is not running' USING ERRCODE = 'SKT01';
  END IF;
  IF p_step = 'files_deleted' AND r.step = 'account_deleted' THEN
    UPDATE public.deletion_requests SET step = 'files_deleted', report = p_report
     WHERE id = p_request RETURNING * INTO r;
  ELSIF p_step = 'proved' AND r.step = 'files_deleted' THEN
    IF (p_report ->> 'hits')::bigint <> 0 THEN
      UPDATE public.deletion_requests SET report = p_report, report_sha256 = p_sha256
       WHERE id = p_request RETURNING * INTO r;
      RETURN r; -- not completed: the proof found the person
    END IF;
    DELETE FROM scrollkeep.erasure_probes WHERE deletion_request_id = p_request;
    UPDATE public.deletion_requests
       SET step = 'proved', report = p_report, report_sha256 = p_sha256,
           status = 'completed', completed_at = now()
     WHERE id = p_request RETURNING * INTO r;
    PERFORM scrollkeep.audit_system_event('scrollkeep', 'privacy.erasure_proved', 'deletion_request',
                                          r.id::text, jsonb_build_object('report_sha256', p_sha256, 'hits', 0));
  ELSE
    RAISE EXCEPTION 'step % cannot follow %', p_step, r.step USING ERRCODE = 'SKT01';
  END IF;
  RETURN r;
END $$;

REVOKE ALL ON FUNCTION scrollkeep.forget_step(uuid, text, text), scrollkeep.forget_finish(uuid, text, jsonb, text)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.forget_step(uuid, text, text), scrollkeep.forget_finish(uuid, text, jsonb, text)
  TO service_role;

-- ---- the proof ----

-- Every column that can hold text (text, varchar, char, json, jsonb, uuid, and arrays of them)
-- of every table in public, scrollkeep and auth, but the probes themselves: how many rows
-- still contain any of the probes. Probes shorter than 4 characters are skipped (they would
-- match everywhere and prove nothing).
CREATE FUNCTION scrollkeep.erasure_scan(p_probes text[])
  RETURNS TABLE (table_schema text, table_name text, column_name text, hits bigint)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  c record;
  probes text[] := ARRAY(SELECT p FROM unnest(p_probes) p WHERE char_length(p) >= 4);
BEGIN
  FOR c IN
    SELECT n.nspname::text AS s, k.relname::text AS t, a.attname::text AS col
      FROM pg_class k
      JOIN pg_namespace n ON n.oid = k.relnamespace
      JOIN pg_attribute a ON a.attrelid = k.oid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_type ty ON ty.oid = a.atttypid
     WHERE k.relkind IN ('r', 'p') AND n.nspname IN ('public', 'scrollkeep', 'auth')
       AND NOT (n.nspname = 'scrollkeep' AND k.relname = 'erasure_probes')
       AND (ty.typcategory = 'S' OR ty.typname IN ('json', 'jsonb', 'uuid')
            OR (ty.typcategory = 'A' AND ty.typelem IN (SELECT oid FROM pg_type
                                                        WHERE typcategory = 'S' OR typname IN ('uuid', 'jsonb'))))
     ORDER BY 1, 2, a.attnum
  LOOP
    table_schema := c.s; table_name := c.t; column_name := c.col;
    EXECUTE format('SELECT count(*) FROM %I.%I x WHERE x.%I IS NOT NULL AND EXISTS '
                   '(SELECT 1 FROM unnest($1) p WHERE strpos(x.%I::text, p) > 0)', c.s, c.t, c.col, c.col)
       INTO hits USING probes;
    IF hits > 0 THEN
      RETURN NEXT;
    END IF;
  END LOOP;
END $$;

-- Rows deleted or updated but still on disk until VACUUM, in the product's schemas.
CREATE FUNCTION scrollkeep.dead_rows() RETURNS bigint
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT coalesce(sum(n_dead_tup), 0)::bigint FROM pg_catalog.pg_stat_all_tables
   WHERE schemaname IN ('public', 'scrollkeep', 'auth')
$$;

REVOKE ALL ON FUNCTION scrollkeep.erasure_scan(text[]), scrollkeep.dead_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.erasure_scan(text[]), scrollkeep.dead_rows() TO service_role;

REVOKE ALL ON FUNCTION scrollkeep.subject_rows(text, text), scrollkeep.forget_count(jsonb, text, text, bigint),
                       scrollkeep.forget_steps(), scrollkeep.consent_receipt(public.consent_events) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.subject_rows(text, text), scrollkeep.forget_count(jsonb, text, text, bigint),
                          scrollkeep.forget_steps(), scrollkeep.consent_receipt(public.consent_events) TO service_role;

-- ---- a restore forgets again ----

-- Every account, for the caller to compute each one's keyed hash (it holds the key).
CREATE FUNCTION scrollkeep.accounts() RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT id FROM auth.users ORDER BY id $$;

-- Given [{id, hmac}], the accounts whose hash is a tombstone's — people forgotten after the
-- backup a restore came from — each with a deletion request opened again (verified: the
-- tombstone is the request). Returns the requests.
CREATE FUNCTION scrollkeep.reapply_tombstones(p_accounts jsonb) RETURNS SETOF uuid
  LANGUAGE sql SECURITY DEFINER SET search_path = ''
AS $$
  SELECT (scrollkeep.request_deletion((a ->> 'id')::uuid, 'support', interval '0')).id
    FROM jsonb_array_elements(p_accounts) a
    JOIN public.erasure_tombstones t ON t.subject_hmac = a ->> 'hmac'
$$;

REVOKE ALL ON FUNCTION scrollkeep.accounts(), scrollkeep.reapply_tombstones(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.accounts(), scrollkeep.reapply_tombstones(jsonb) TO service_role;

-- ---- an extension, with its reason ----

-- Move an open deletion request's due date to p_until (at most two months past the legal
-- month, the table's CHECK) with the reason the person is told; the person sees both on
-- GET /v1/privacy/requests/{id}.
CREATE FUNCTION scrollkeep.extend_deletion(p_request uuid, p_until timestamptz, p_reason text)
  RETURNS public.deletion_requests
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  r public.deletion_requests;
BEGIN
  SELECT * INTO r FROM public.deletion_requests WHERE id = p_request FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no such deletion request' USING ERRCODE = 'P0002';
  END IF;
  IF r.status NOT IN ('requested', 'verified', 'scheduled', 'running') THEN
    RAISE EXCEPTION 'the deletion request is %', r.status USING ERRCODE = 'SKT01';
  END IF;
  IF p_reason ~ '[^[:space:]@]+@[^[:space:]@]+' THEN
    RAISE EXCEPTION 'the reason is told to the person: no addresses in it' USING ERRCODE = '22023';
  END IF;
  UPDATE public.deletion_requests SET extended_due_at = p_until, extension_reason = p_reason
   WHERE id = p_request RETURNING * INTO r;
  PERFORM scrollkeep.audit_system_event('scrollkeep', 'privacy.deadline_extended', 'deletion_request',
                                        r.id::text, jsonb_build_object('until', p_until));
  RETURN r;
END $$;
REVOKE ALL ON FUNCTION scrollkeep.extend_deletion(uuid, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.extend_deletion(uuid, timestamptz, text) TO service_role;

-- ---- backups ----

-- Each table of the product's schemas: its row count and a checksum of its rows (md5 of the
-- sorted md5s of each row's text, in fixed settings), for a backup's manifest and for proving
-- a restored copy equal to it.
CREATE FUNCTION scrollkeep.table_checksums()
  RETURNS TABLE (table_name text, row_count bigint, checksum text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = '' SET "TimeZone" = 'UTC' SET "DateStyle" = 'ISO, YMD' SET extra_float_digits = 3
AS $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT n.nspname AS s, c.relname AS r FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('public', 'scrollkeep', 'auth', 'supabase_migrations')
            ORDER BY 1, 2 LOOP
    table_name := t.s || '.' || t.r;
    EXECUTE format('SELECT count(*), coalesce(md5(string_agg(h, '''' ORDER BY h)), '''')'
                   '  FROM (SELECT md5(x::text) AS h FROM %I.%I x) y', t.s, t.r)
       INTO row_count, checksum;
    RETURN NEXT;
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION scrollkeep.table_checksums() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.table_checksums() TO service_role;

-- A synthetic person for the restore drill: an account and a consent, nothing real.
CREATE FUNCTION scrollkeep.drill_canary() RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  u uuid := gen_random_uuid();
BEGIN
  INSERT INTO auth.users (id, email) VALUES (u, 'canary-' || u || '@drill.invalid');
  INSERT INTO public.consent_events (user_id, purpose, action, notice_version, notice_sha256, language,
                                     jurisdiction, method, actor, source)
  VALUES (u, 'email_delivery', 'granted', 'drill', repeat('0', 64), 'en', 'DE', 'support', 'system', 'restore-drill');
  RETURN u;
END $$;

-- The tombstones of a live database, to carry into a restored copy.
CREATE FUNCTION scrollkeep.tombstones() RETURNS TABLE (subject_hmac text, key_id text, erased_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$ SELECT subject_hmac, key_id, erased_at FROM public.erasure_tombstones ORDER BY id $$;
CREATE FUNCTION scrollkeep.add_tombstones(p jsonb) RETURNS bigint
  LANGUAGE sql SECURITY DEFINER SET search_path = ''
AS $$
  WITH added AS (
    INSERT INTO public.erasure_tombstones (subject_hmac, key_id, erased_at)
    SELECT t ->> 'subject_hmac', t ->> 'key_id', (t ->> 'erased_at')::timestamptz
      FROM jsonb_array_elements(p) t
    ON CONFLICT (subject_hmac) DO NOTHING RETURNING 1)
  SELECT count(*) FROM added
$$;
REVOKE ALL ON FUNCTION scrollkeep.drill_canary(), scrollkeep.tombstones(), scrollkeep.add_tombstones(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.drill_canary(), scrollkeep.tombstones(), scrollkeep.add_tombstones(jsonb)
  TO service_role;
