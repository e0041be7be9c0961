-- The Shop's hot path, measured: per statement, not per row.
--
-- A Stripe event cost 1.7 ms of PostgreSQL time to process (3,000 events, one backend, no
-- contention; `pg_stat_statements` with track = all and `perf`). Two causes dominated:
--
--   * CHECK constraints written with a large bounded repetition. PostgreSQL's regex engine
--     builds one NFA state per repetition, so `~ '^evt_[A-Za-z0-9_]{1,250}$'` took 50 µs a row
--     and the three-way alternative of entitlement_changes 120 µs; `+` with char_length is
--     the same rule at 1 µs. Every such constraint is restated below, same name, same meaning.
--   * One row per statement. Each INSERT or UPDATE rebuilds its table's constraint
--     expressions, queues its foreign-key and audit triggers and runs a plpgsql function call
--     or two; the ledger ran some twenty such statements per event. Below, the ledger works
--     on a batch of events with one statement per step (scrollkeep.apply_ledger), the money's
--     audit triggers fire once per statement over a transition table, and enqueue_jobs inserts
--     its batch in one statement.
--
-- The ledger's rules are unchanged (migration 012): the outcome only moves up the precedence,
-- facts are a set, the states are derived from both. A batch behaves as its events processed
-- one after another: events about the same session or payment intent go in successive passes,
-- in the batch's order; events about different ones cannot affect each other, so a pass
-- handles them together. Locks are taken in one global order — the events' rows by id, the
-- Stripe objects' advisory locks by hash, the sessions' rows by id — so two batches, or a batch
-- and the success page, wait for each other but never deadlock.

-- ---- CHECK constraints without large bounded repetitions ----

ALTER TABLE public.consent_events
  DROP CONSTRAINT consent_events_notice_version_check,
  ADD CONSTRAINT consent_events_notice_version_check
    CHECK (notice_version ~ '^[A-Za-z0-9][A-Za-z0-9._-]*$' AND char_length(notice_version) <= 64),
  DROP CONSTRAINT consent_events_source_check,
  ADD CONSTRAINT consent_events_source_check
    CHECK (source ~ '^[a-z0-9][a-z0-9._:/-]*$' AND char_length(source) <= 80),
  DROP CONSTRAINT consent_events_notice_sha256_check,
  ADD CONSTRAINT consent_events_notice_sha256_check
    CHECK (notice_sha256 ~ '^[0-9a-f]+$' AND char_length(notice_sha256) = 64);

ALTER TABLE public.readings
  DROP CONSTRAINT readings_seal_sha256_check,
  ADD CONSTRAINT readings_seal_sha256_check
    CHECK (seal_sha256 ~ '^[0-9a-f]+$' AND char_length(seal_sha256) = 64);

ALTER TABLE public.oracle_artifacts
  DROP CONSTRAINT oracle_artifacts_request_key_check,
  ADD CONSTRAINT oracle_artifacts_request_key_check
    CHECK (request_key ~ '^[A-Za-z0-9._:-]+$' AND char_length(request_key) <= 128),
  DROP CONSTRAINT oracle_artifacts_sha256_check,
  ADD CONSTRAINT oracle_artifacts_sha256_check
    CHECK (sha256 ~ '^[0-9a-f]+$' AND char_length(sha256) = 64);

ALTER TABLE public.email_messages
  DROP CONSTRAINT email_messages_message_id_check,
  ADD CONSTRAINT email_messages_message_id_check
    CHECK (message_id ~ '^<[A-Za-z0-9._-]+@[A-Za-z0-9.-]+>$'
           AND char_length(split_part(message_id, '@', 1)) <= 121
           AND char_length(split_part(message_id, '@', 2)) <= 121);

ALTER TABLE public.products
  DROP CONSTRAINT products_stripe_product_id_check,
  ADD CONSTRAINT products_stripe_product_id_check
    CHECK (stripe_product_id ~ '^prod_[A-Za-z0-9]+$' AND char_length(stripe_product_id) <= 255);

ALTER TABLE public.prices
  DROP CONSTRAINT prices_stripe_price_id_check,
  ADD CONSTRAINT prices_stripe_price_id_check
    CHECK (stripe_price_id ~ '^price_[A-Za-z0-9]+$' AND char_length(stripe_price_id) <= 256);

ALTER TABLE public.purchase_links
  DROP CONSTRAINT purchase_links_slug_check,
  ADD CONSTRAINT purchase_links_slug_check
    CHECK (slug ~ '^[a-z0-9][a-z0-9-]*$' AND char_length(slug) <= 63),
  DROP CONSTRAINT purchase_links_unlock_route_check,
  ADD CONSTRAINT purchase_links_unlock_route_check
    CHECK (unlock_route ~ '^/[A-Za-z0-9/_-]*$' AND char_length(unlock_route) <= 201);

ALTER TABLE public.checkout_sessions
  DROP CONSTRAINT checkout_sessions_stripe_checkout_session_id_check,
  ADD CONSTRAINT checkout_sessions_stripe_checkout_session_id_check
    CHECK (stripe_checkout_session_id ~ '^cs_[A-Za-z0-9_]+$' AND char_length(stripe_checkout_session_id) <= 253),
  DROP CONSTRAINT checkout_sessions_stripe_payment_intent_id_check,
  ADD CONSTRAINT checkout_sessions_stripe_payment_intent_id_check
    CHECK (stripe_payment_intent_id ~ '^pi_[A-Za-z0-9_]+$' AND char_length(stripe_payment_intent_id) <= 253);

ALTER TABLE public.payments
  DROP CONSTRAINT payments_stripe_payment_intent_id_check,
  ADD CONSTRAINT payments_stripe_payment_intent_id_check
    CHECK (stripe_payment_intent_id ~ '^pi_[A-Za-z0-9_]+$' AND char_length(stripe_payment_intent_id) <= 253);

ALTER TABLE public.entitlements
  DROP CONSTRAINT entitlements_caused_by_event_check,
  ADD CONSTRAINT entitlements_caused_by_event_check
    CHECK ((caused_by_event ~ '^evt_[A-Za-z0-9_]+$' AND char_length(caused_by_event) <= 254)
           OR (caused_by_event ~ '^confirm:[A-Za-z0-9_]+$' AND char_length(caused_by_event) <= 258)),
  DROP CONSTRAINT entitlements_unlock_route_check,
  ADD CONSTRAINT entitlements_unlock_route_check
    CHECK (unlock_route ~ '^/[A-Za-z0-9/_-]*$' AND char_length(unlock_route) <= 201);

ALTER TABLE public.stripe_events
  DROP CONSTRAINT stripe_events_stripe_event_id_check,
  ADD CONSTRAINT stripe_events_stripe_event_id_check
    CHECK (stripe_event_id ~ '^evt_[A-Za-z0-9_]+$' AND char_length(stripe_event_id) <= 254);

ALTER TABLE public.admin_audit_events
  DROP CONSTRAINT admin_audit_events_actor_check,
  ADD CONSTRAINT admin_audit_events_actor_check
    CHECK (actor ~ '^[a-z0-9][a-z0-9._:-]*$' AND char_length(actor) <= 80),
  DROP CONSTRAINT admin_audit_events_subject_id_check,
  ADD CONSTRAINT admin_audit_events_subject_id_check
    CHECK (subject_id ~ '^[A-Za-z0-9_.:-]+$' AND char_length(subject_id) <= 80),
  DROP CONSTRAINT admin_audit_events_prev_hash_check,
  ADD CONSTRAINT admin_audit_events_prev_hash_check
    CHECK (prev_hash ~ '^[0-9a-f]+$' AND char_length(prev_hash) = 64),
  DROP CONSTRAINT admin_audit_events_row_hash_check,
  ADD CONSTRAINT admin_audit_events_row_hash_check
    CHECK (row_hash ~ '^[0-9a-f]+$' AND char_length(row_hash) = 64),
  -- The address pattern only where an '@' could make it match.
  DROP CONSTRAINT admin_audit_events_details_check,
  ADD CONSTRAINT admin_audit_events_details_check
    CHECK (jsonb_typeof(details) = 'object' AND octet_length(details::text) <= 4096
           AND (strpos(details::text, '@') = 0 OR details::text !~ '[^[:space:]@"]+@[^[:space:]@"]+')),
  DROP CONSTRAINT admin_audit_events_reason_check,
  ADD CONSTRAINT admin_audit_events_reason_check
    CHECK (char_length(reason) BETWEEN 1 AND 500
           AND (strpos(reason, '@') = 0 OR reason !~ '[^[:space:]@]+@[^[:space:]@]+'));

ALTER TABLE scrollkeep.audit_chain_head
  DROP CONSTRAINT audit_chain_head_row_hash_check,
  ADD CONSTRAINT audit_chain_head_row_hash_check
    CHECK (row_hash ~ '^[0-9a-f]+$' AND char_length(row_hash) = 64);

ALTER TABLE scrollkeep.audit_outbox
  DROP CONSTRAINT audit_outbox_actor_check,
  ADD CONSTRAINT audit_outbox_actor_check
    CHECK (actor ~ '^[a-z0-9][a-z0-9._:-]*$' AND char_length(actor) <= 80),
  DROP CONSTRAINT audit_outbox_subject_id_check,
  ADD CONSTRAINT audit_outbox_subject_id_check
    CHECK (subject_id ~ '^[A-Za-z0-9_.:-]+$' AND char_length(subject_id) <= 80),
  DROP CONSTRAINT audit_outbox_details_check,
  ADD CONSTRAINT audit_outbox_details_check
    CHECK (jsonb_typeof(details) = 'object' AND octet_length(details::text) <= 4000
           AND (strpos(details::text, '@') = 0 OR details::text !~ '[^[:space:]@"]+@[^[:space:]@"]+'));

ALTER TABLE scrollkeep.payment_facts
  DROP CONSTRAINT payment_facts_caused_by_event_check,
  ADD CONSTRAINT payment_facts_caused_by_event_check
    CHECK (caused_by_event ~ '^evt_[A-Za-z0-9_]+$' AND char_length(caused_by_event) <= 254),
  DROP CONSTRAINT payment_facts_payment_intent_check,
  ADD CONSTRAINT payment_facts_payment_intent_check
    CHECK (payment_intent ~ '^pi_[A-Za-z0-9_]+$' AND char_length(payment_intent) <= 253),
  DROP CONSTRAINT payment_facts_ref_check,
  ADD CONSTRAINT payment_facts_ref_check
    CHECK (ref ~ '^[A-Za-z0-9_:]+$' AND char_length(ref) <= 255);

ALTER TABLE scrollkeep.entitlement_changes
  DROP CONSTRAINT entitlement_changes_caused_by_event_check,
  ADD CONSTRAINT entitlement_changes_caused_by_event_check
    CHECK ((caused_by_event ~ '^evt_[A-Za-z0-9_]+$' AND char_length(caused_by_event) <= 254)
           OR (caused_by_event ~ '^confirm:[A-Za-z0-9_]+$' AND char_length(caused_by_event) <= 258)
           OR (caused_by_event ~ '^reconcile:[0-9]+$' AND char_length(caused_by_event) <= 28));

CREATE OR REPLACE FUNCTION scrollkeep.audit_system_event(actor text, action text, subject_type text,
                                                         subject_id text, details jsonb) RETURNS void
  LANGUAGE sql SET search_path = ''
AS $$
  INSERT INTO scrollkeep.audit_outbox (actor, actor_role, action, subject_type, subject_id, details)
  VALUES (actor, 'system', action, subject_type,
          CASE WHEN subject_id ~ '^[A-Za-z0-9_.:-]+$' AND char_length(subject_id) <= 80 THEN subject_id END,
          details)
$$;

-- ---- the money's audit events, once per statement ----

CREATE OR REPLACE FUNCTION scrollkeep.audit_payment_recorded() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  INSERT INTO scrollkeep.audit_outbox (actor, actor_role, action, subject_type, subject_id, details)
  SELECT 'stripe', 'system', 'payment.recorded', 'payment', n.id::text,
         jsonb_build_object('checkout_session', n.checkout_session_id, 'payment_intent', n.stripe_payment_intent_id,
                            'amount', n.amount, 'currency', n.currency, 'status', n.status, 'livemode', n.livemode)
    FROM inserted n ORDER BY n.checkout_session_id;
  RETURN NULL;
END $$;
DROP TRIGGER payments_audit ON public.payments;
CREATE TRIGGER payments_audit AFTER INSERT ON public.payments
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION scrollkeep.audit_payment_recorded();

CREATE OR REPLACE FUNCTION scrollkeep.audit_payment_fact() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  INSERT INTO scrollkeep.audit_outbox (actor, actor_role, action, subject_type, subject_id, details)
  SELECT 'stripe', 'system',
         CASE n.fact WHEN 'refund_full' THEN 'refund.recorded' WHEN 'refund_partial' THEN 'refund.recorded'
                     WHEN 'refund_failed' THEN 'refund.failed' WHEN 'dispute_open' THEN 'dispute.opened'
                     ELSE 'dispute.closed' END,
         'payment_intent',
         CASE WHEN char_length(n.payment_intent) <= 80 THEN n.payment_intent END,
         jsonb_build_object('payment_intent', n.payment_intent, 'fact', n.fact, 'ref', n.ref,
                            'amount', n.amount, 'stripe_event', n.caused_by_event)
    FROM inserted n ORDER BY n.id;
  RETURN NULL;
END $$;
DROP TRIGGER payment_facts_audit ON scrollkeep.payment_facts;
CREATE TRIGGER payment_facts_audit AFTER INSERT ON scrollkeep.payment_facts
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION scrollkeep.audit_payment_fact();

CREATE OR REPLACE FUNCTION scrollkeep.audit_entitlement_change() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  INSERT INTO scrollkeep.audit_outbox (actor, actor_role, action, subject_type, subject_id, details)
  SELECT scrollkeep.audit_cause_actor(n.caused_by_event), 'system',
         CASE WHEN n.to_status = 'active' AND n.from_status IN ('held', 'revoked') THEN 'entitlement.restored'
              WHEN n.to_status = 'active' THEN 'entitlement.granted'
              ELSE 'entitlement.' || n.to_status END,
         'entitlement', n.entitlement_id::text,
         jsonb_build_object('from', n.from_status, 'to', n.to_status, 'cause', n.caused_by_event)
    FROM inserted n ORDER BY n.id;
  RETURN NULL;
END $$;
DROP TRIGGER entitlement_changes_audit ON scrollkeep.entitlement_changes;
CREATE TRIGGER entitlement_changes_audit AFTER INSERT ON scrollkeep.entitlement_changes
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION scrollkeep.audit_entitlement_change();

-- ---- the chain's head, once per statement ----

-- Appending read the head row and rewrote it for every row of the trail: 150 µs a row, as each
-- version of the one row stays visible to its own transaction until commit. While a
-- transaction appends (it holds the chain's lock from its first row on), the head travels in a
-- transaction-local setting instead, and is written to scrollkeep.audit_chain_head once per
-- statement. Both are undone together by a rollback, to a savepoint too.
CREATE OR REPLACE FUNCTION scrollkeep.audit_chain_append() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  head text := current_setting('scrollkeep.audit_chain_head', true);
  seq bigint;
  prev text;
BEGIN
  IF coalesce(head, '') = '' THEN
    PERFORM pg_advisory_xact_lock(7379076523651072); -- 'audit' chain lock
    SELECT h.chain_seq, h.row_hash INTO seq, prev FROM scrollkeep.audit_chain_head h;
  ELSE
    seq := split_part(head, ':', 1)::bigint;
    prev := nullif(split_part(head, ':', 2), '');
  END IF;
  NEW.chain_seq := seq + 1;
  NEW.prev_hash := prev;
  NEW.occurred_at := clock_timestamp();
  NEW.row_hash := scrollkeep.audit_row_hash(NEW.prev_hash, NEW.chain_seq, NEW.occurred_at,
    NEW.actor, NEW.actor_role, NEW.action, NEW.subject_type, NEW.subject_id, NEW.reason, NEW.details);
  PERFORM set_config('scrollkeep.audit_chain_head', NEW.chain_seq || ':' || NEW.row_hash, true);
  RETURN NEW;
END $$;

CREATE FUNCTION scrollkeep.audit_chain_store_head() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  head text := current_setting('scrollkeep.audit_chain_head', true);
BEGIN
  IF coalesce(head, '') <> '' THEN
    UPDATE scrollkeep.audit_chain_head
       SET chain_seq = split_part(head, ':', 1)::bigint, row_hash = split_part(head, ':', 2);
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION scrollkeep.audit_chain_store_head() FROM PUBLIC;
CREATE TRIGGER admin_audit_events_chain_head AFTER INSERT ON public.admin_audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION scrollkeep.audit_chain_store_head();

-- ---- enqueue_jobs: one INSERT for the whole batch ----

-- The ids are drawn from the identity's sequence in the order given, so that each input row
-- knows its job's id (RETURNING cannot say which input row a row came from); a row whose
-- idempotency key exists already, in the table or earlier in the batch, returns that job.
--
-- wake => false enqueues without notifying. A notification is sent at commit, and notifying
-- commits take one lock in turn, each holding it while it waits for the disk: at a few
-- hundred commits a second every business transaction would queue behind that lock. Hot paths
-- enqueue without it and wake the workers after their commit, without waiting for the disk
-- (queue_wake in src/jobs/queue.c); a lost wake-up costs the workers' poll interval, never a job.
GRANT USAGE ON SEQUENCE public.delivery_jobs_id_seq TO service_role;

DROP FUNCTION scrollkeep.enqueue_jobs(jsonb);
CREATE FUNCTION scrollkeep.enqueue_jobs(jobs jsonb, wake boolean DEFAULT true) RETURNS SETOF bigint
  LANGUAGE plpgsql SET search_path = ''
AS $$
DECLARE
  unknown text;
  ids bigint[];
BEGIN
  SELECT j.kind INTO unknown FROM jsonb_to_recordset(jobs) AS j(kind text)
   WHERE NOT EXISTS (SELECT FROM scrollkeep.job_kinds k WHERE k.kind = j.kind) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'unknown job kind %', unknown USING ERRCODE = '22023';
  END IF;
  WITH input AS (
    SELECT j.*, nextval('public.delivery_jobs_id_seq') AS new_id
      FROM ROWS FROM (jsonb_to_recordset(jobs)
                      AS (kind text, payload jsonb, idempotency_key text, run_at timestamptz,
                          priority integer, deliver_by timestamptz)) WITH ORDINALITY AS j
     ORDER BY j.ordinality
  ), inserted AS (
    INSERT INTO public.delivery_jobs (id, kind, payload, idempotency_key, next_run_at, max_attempts,
                                      user_id, priority, deliver_by)
    OVERRIDING SYSTEM VALUE
    SELECT i.new_id, i.kind, coalesce(i.payload, '{}'::jsonb), i.idempotency_key, coalesce(i.run_at, now()),
           k.max_attempts, (i.payload ->> 'user_id')::uuid, coalesce(i.priority, 0), i.deliver_by
      FROM input i JOIN scrollkeep.job_kinds k ON k.kind = i.kind
     ORDER BY i.ordinality
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, idempotency_key
  )
  SELECT array_agg(coalesce(n.id, earlier.id, -i.ordinality) ORDER BY i.ordinality) INTO ids
    FROM input i
    LEFT JOIN inserted n ON n.id = i.new_id
    LEFT JOIN inserted earlier ON n.id IS NULL AND earlier.idempotency_key = i.idempotency_key;
  -- A key taken already, by a job this statement could not see yet (committed meanwhile) as
  -- well as by an older one: that job. (A negative entry holds its input's position.)
  RETURN QUERY
  SELECT CASE WHEN x.id > 0 THEN x.id
              ELSE (SELECT d.id FROM public.delivery_jobs d
                     WHERE d.idempotency_key = (jobs -> (-x.id - 1)::integer ->> 'idempotency_key')) END
    FROM unnest(ids) WITH ORDINALITY AS x(id, ord) ORDER BY x.ord;
  -- Wake the workers for the kinds due now (PostgreSQL folds repeats within a transaction).
  IF enqueue_jobs.wake THEN
    PERFORM pg_notify('scrollkeep_jobs', k.kind)
       FROM (SELECT DISTINCT j.kind FROM jsonb_to_recordset(jobs) AS j(kind text, run_at timestamptz)
              WHERE coalesce(j.run_at, now()) <= now()) k;
  END IF;
END $$;
GRANT EXECUTE ON FUNCTION scrollkeep.enqueue_jobs(jsonb, boolean) TO service_role;

-- The redaction as a plpgsql function: as an SQL function with SET search_path it could not
-- be inlined, and was parsed and planned again for every event.
CREATE OR REPLACE FUNCTION scrollkeep.redact_stripe_payload(p jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE SET search_path = ''
AS $$
BEGIN
  RETURN p #- '{data,object,customer_details}' #- '{data,object,customer_email}'
           #- '{data,object,shipping_details}' #- '{data,object,shipping}'
           #- '{data,object,billing_details}' #- '{data,object,receipt_email}'
           #- '{data,object,collected_information}' #- '{data,object,evidence}'
           #- '{data,previous_attributes}';
END $$;

-- ---- the ledger, a batch at a time ----

-- What the ledger is asked to apply: a Stripe object and what was said of it.
CREATE TYPE scrollkeep.ledger_item AS (
  ord integer,       -- the item's place in the batch; its verdict carries it back
  obj jsonb,         -- the Stripe object: an event's data.object, or a retrieved session
  event_type text,   -- the event's type, or 'confirm' (the success page)
  cause text         -- the Stripe event id, or 'confirm:<session id>'
);

-- An item as the ledger works on it.
CREATE TYPE scrollkeep.ledger_work AS (
  ord integer,
  kind text,         -- 'session', 'fact', or 'done' (verdict already known)
  obj jsonb,
  event_type text,
  cause text,
  pi text,           -- the payment intent the object names
  fact text,         -- a fact's kind, ref and amount (scrollkeep.payment_facts)
  ref text,
  amount bigint,
  session_id uuid,   -- the local session it is about, once found
  pass integer,      -- 1 for the first item about its session or payment intent, then 2, …
  verdict jsonb
);

-- The states one settle decided for a session.
CREATE TYPE scrollkeep.ledger_settle AS (
  session_id uuid,
  cause text,
  payment_id uuid,
  product_id uuid,
  user_id uuid,
  subject_surrogate uuid,
  unlock_route text,
  ent_status text,
  newly_active boolean
);

-- The payment's and entitlement's states of each session in p_sessions (distinct), from its
-- outcome and every fact about its payment intent; each change names the cause given with its
-- session. Returns what was decided for the sessions that had anything to settle (a session
-- never paid nor pending has no payment and no entitlement).
CREATE FUNCTION scrollkeep.ledger_settle(p_sessions uuid[], p_causes text[])
  RETURNS SETOF scrollkeep.ledger_settle
  LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  decided scrollkeep.ledger_settle[];
BEGIN
  -- What each session's states should be. A full refund counts unless a refund.failed names it
  -- (or, when Stripe did not name the refund, any refund of the payment failed); a lost dispute
  -- revokes; an open one holds. The payment is recorded (or brought up to date) in the same
  -- statement.
  WITH t AS (
    SELECT * FROM unnest(p_sessions, p_causes) AS t(session_id, cause)
  ), s AS (
    SELECT cs.id, cs.user_id, cs.subject_surrogate, cs.stripe_payment_intent_id AS pi, cs.outcome,
           coalesce(cs.amount_total, pr.unit_amount) AS amount, coalesce(cs.currency, pr.currency) AS currency,
           cs.livemode, l.unlock_route, pr.product_id, t.cause,
           coalesce(f.refunded, 0) AS refunded, coalesce(f.refund_revoked, false) AS refund_revoked,
           coalesce(f.held, false) AS held, coalesce(f.lost, false) AS lost
      FROM t
      JOIN public.checkout_sessions cs ON cs.id = t.session_id
      JOIN public.purchase_links l ON l.id = cs.purchase_link_id
      JOIN public.prices pr ON pr.id = l.price_id
      LEFT JOIN LATERAL (
        SELECT max(x.amount) FILTER (WHERE x.fact IN ('refund_full', 'refund_partial') AND NOT x.failed) AS refunded,
               bool_or(x.fact = 'refund_full' AND NOT x.failed) AS refund_revoked,
               bool_or(x.fact = 'dispute_open' AND NOT x.closed) AS held,
               bool_or(x.fact = 'dispute_lost') AS lost
          FROM (SELECT fa.fact, fa.amount,
                       EXISTS (SELECT 1 FROM scrollkeep.payment_facts y
                                WHERE y.payment_intent = fa.payment_intent AND y.fact = 'refund_failed'
                                  AND (y.ref = fa.ref OR fa.ref NOT LIKE 're\_%')) AS failed,
                       EXISTS (SELECT 1 FROM scrollkeep.payment_facts y
                                WHERE y.payment_intent = fa.payment_intent
                                  AND y.fact IN ('dispute_won', 'dispute_lost') AND y.ref = fa.ref) AS closed
                  FROM scrollkeep.payment_facts fa WHERE fa.payment_intent = cs.stripe_payment_intent_id) x
      ) f ON cs.stripe_payment_intent_id IS NOT NULL
     WHERE NOT (cs.outcome = 'open'
                OR (cs.outcome = 'expired'
                    AND NOT EXISTS (SELECT 1 FROM public.payments p WHERE p.checkout_session_id = cs.id)))
  ), d AS (
    SELECT s.*,
           CASE WHEN s.outcome = 'paid' THEN
                  CASE WHEN s.lost OR s.refund_revoked THEN 'revoked' WHEN s.held THEN 'held' ELSE 'active' END
                WHEN s.outcome = 'pending' THEN 'pending' ELSE 'closed' END AS ent_status,
           CASE WHEN s.outcome = 'paid' THEN
                  CASE WHEN s.lost OR s.held THEN 'disputed' WHEN s.refund_revoked THEN 'refunded'
                       WHEN s.refunded > 0 THEN 'partially_refunded' ELSE 'paid' END
                WHEN s.outcome = 'pending' THEN 'pending' ELSE 'failed' END AS pay_status
      FROM s
  ), paid AS (
    INSERT INTO public.payments (checkout_session_id, stripe_payment_intent_id, user_id, subject_surrogate,
                                 amount, amount_refunded, currency, livemode, status, paid_at)
    SELECT d.id, d.pi, d.user_id, d.subject_surrogate, d.amount, least(d.refunded, d.amount), d.currency,
           d.livemode, d.pay_status, CASE WHEN d.outcome = 'paid' THEN now() END
      FROM d ORDER BY d.id
    ON CONFLICT (checkout_session_id) DO UPDATE
      SET stripe_payment_intent_id = coalesce(public.payments.stripe_payment_intent_id, EXCLUDED.stripe_payment_intent_id),
          amount_refunded = least(EXCLUDED.amount_refunded, public.payments.amount),
          status = EXCLUDED.status,
          paid_at = coalesce(public.payments.paid_at, EXCLUDED.paid_at)
    RETURNING id, checkout_session_id
  )
  SELECT array_agg(ROW(d.id, d.cause, paid.id, d.product_id, d.user_id, d.subject_surrogate, d.unlock_route,
                       d.ent_status, false)::scrollkeep.ledger_settle)
    INTO decided
    FROM d JOIN paid ON paid.checkout_session_id = d.id;
  IF decided IS NULL THEN
    RETURN;
  END IF;

  -- The entitlements: the existing ones locked, the missing ones made, the changed ones moved,
  -- and each change written to the ledger with its cause.
  PERFORM 1 FROM public.entitlements e JOIN unnest(decided) d
      ON e.payment_id = d.payment_id AND e.product_id = d.product_id
   ORDER BY e.id FOR UPDATE OF e;
  RETURN QUERY
  WITH made AS (
    INSERT INTO public.entitlements (payment_id, product_id, user_id, subject_surrogate, unlock_route, status,
                                     caused_by_event, granted_at, revoked_at)
    SELECT d.payment_id, d.product_id, d.user_id, d.subject_surrogate, d.unlock_route, d.ent_status, d.cause,
           CASE WHEN d.ent_status = 'active' THEN now() END,
           CASE WHEN d.ent_status = 'revoked' THEN now() END
      FROM unnest(decided) d
     WHERE NOT EXISTS (SELECT 1 FROM public.entitlements e
                        WHERE e.payment_id = d.payment_id AND e.product_id = d.product_id)
     ORDER BY d.session_id
    RETURNING id, payment_id, status
  ), old AS (
    SELECT e.id, e.payment_id, e.status, e.granted_at FROM public.entitlements e
      JOIN unnest(decided) d ON e.payment_id = d.payment_id AND e.product_id = d.product_id
     WHERE e.status <> d.ent_status
  ), moved AS (
    UPDATE public.entitlements e
       SET status = d.ent_status, caused_by_event = d.cause,
           granted_at = CASE WHEN d.ent_status = 'active' THEN coalesce(e.granted_at, now()) ELSE e.granted_at END,
           revoked_at = CASE WHEN d.ent_status = 'revoked' THEN now() ELSE NULL END
      FROM old o, unnest(decided) d
     WHERE e.id = o.id AND d.payment_id = o.payment_id AND d.product_id = e.product_id
    RETURNING e.id, e.payment_id, o.status AS from_status, e.status AS to_status,
              (e.status = 'active' AND o.granted_at IS NULL) AS first_grant
  ), changes AS (
    SELECT m.id, m.payment_id, NULL::text AS from_status, m.status AS to_status, m.status = 'active' AS first_grant
      FROM made m
    UNION ALL
    SELECT v.id, v.payment_id, v.from_status, v.to_status, v.first_grant FROM moved v
  ), ledger AS (
    INSERT INTO scrollkeep.entitlement_changes (entitlement_id, from_status, to_status, caused_by_event)
    SELECT c.id, c.from_status, c.to_status, d.cause
      FROM changes c JOIN unnest(decided) d ON d.payment_id = c.payment_id
     ORDER BY d.session_id
  )
  SELECT d.session_id, d.cause, d.payment_id, d.product_id, d.user_id, d.subject_surrogate, d.unlock_route,
         d.ent_status, coalesce(c.first_grant, false)
    FROM unnest(decided) d LEFT JOIN changes c ON c.payment_id = d.payment_id;
END $$;

-- One pass: items (kind 'session' or 'fact', session_id resolved where known) that are about
-- pairwise different sessions and payment intents. Returns each item's verdict.
CREATE FUNCTION scrollkeep.ledger_pass(p_items scrollkeep.ledger_work[])
  RETURNS TABLE (ord integer, verdict jsonb)
  LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  checked scrollkeep.ledger_work[];
  settled scrollkeep.ledger_settle[];
BEGIN
  -- Cross-check each session's object against the local catalog: unlock nothing that does
  -- not match what was sold. A mismatch is the item's verdict, and changes nothing.
  SELECT array_agg(ROW(x.ord, CASE WHEN m.mismatch IS NULL THEN x.kind ELSE 'done' END, x.obj, x.event_type,
                       x.cause, x.pi, x.fact, x.ref, x.amount, x.session_id, x.pass,
                       CASE WHEN m.mismatch IS NOT NULL THEN jsonb_build_object('result', m.mismatch) END
                      )::scrollkeep.ledger_work)
    INTO checked
    FROM unnest(p_items) x
    LEFT JOIN LATERAL (
      SELECT CASE WHEN (x.obj->>'livemode')::boolean IS DISTINCT FROM pr.livemode THEN 'mismatch:livemode'
                  WHEN x.obj->'metadata'->>'purchase_link' IS DISTINCT FROM l.slug THEN 'mismatch:price'
                  WHEN x.obj->>'currency' IS DISTINCT FROM pr.currency THEN 'mismatch:currency'
                  WHEN (x.obj->>'amount_total')::bigint IS DISTINCT FROM pr.unit_amount THEN 'mismatch:amount'
             END AS mismatch
        FROM public.checkout_sessions cs
        JOIN public.purchase_links l ON l.id = cs.purchase_link_id
        JOIN public.prices pr ON pr.id = l.price_id
       WHERE cs.id = x.session_id
    ) m ON x.kind = 'session';

  -- Move each session's outcome up the precedence, never down.
  UPDATE public.checkout_sessions cs
     SET outcome = CASE WHEN scrollkeep.outcome_rank(u.proposed) > scrollkeep.outcome_rank(cs.outcome)
                        THEN u.proposed ELSE cs.outcome END,
         status = CASE WHEN u.proposed IN ('paid', 'pending', 'failed') OR cs.status = 'complete' THEN 'complete'
                       WHEN u.proposed = 'expired' THEN 'expired' ELSE cs.status END,
         payment_status = CASE WHEN scrollkeep.outcome_rank(u.proposed) >= scrollkeep.outcome_rank(cs.outcome)
                                    AND u.obj->>'payment_status' IN ('paid', 'unpaid', 'no_payment_required')
                               THEN u.obj->>'payment_status' ELSE cs.payment_status END,
         stripe_payment_intent_id = coalesce(cs.stripe_payment_intent_id, u.pi),
         amount_total = coalesce(cs.amount_total, (u.obj->>'amount_total')::bigint),
         currency = coalesce(cs.currency, u.obj->>'currency'),
         completed_at = CASE WHEN u.proposed IN ('paid', 'pending', 'failed')
                             THEN coalesce(cs.completed_at, now()) ELSE cs.completed_at END
    FROM (SELECT x.session_id, x.obj, x.pi,
                 CASE WHEN x.event_type = 'checkout.session.async_payment_succeeded' THEN 'paid'
                      WHEN x.event_type = 'checkout.session.async_payment_failed' THEN 'failed'
                      WHEN x.event_type = 'checkout.session.expired' OR x.obj->>'status' = 'expired' THEN 'expired'
                      WHEN x.obj->>'status' = 'complete'
                           AND x.obj->>'payment_status' IN ('paid', 'no_payment_required') THEN 'paid'
                      WHEN x.obj->>'status' = 'complete' THEN 'pending'
                      ELSE 'open' END AS proposed
            FROM unnest(checked) x WHERE x.kind = 'session') u
   WHERE cs.id = u.session_id;

  -- Record each refund or dispute (a repeat adds nothing).
  INSERT INTO scrollkeep.payment_facts (payment_intent, fact, ref, amount, caused_by_event)
  SELECT x.pi, x.fact, x.ref, x.amount, x.cause FROM unnest(checked) x WHERE x.kind = 'fact' ORDER BY x.ord
  ON CONFLICT (payment_intent, fact, ref) DO NOTHING;

  -- Settle every session an item applied to (a fact whose session is not known yet waits for
  -- its completion, which settles it then).
  SELECT array_agg(s) INTO settled
    FROM scrollkeep.ledger_settle(
           ARRAY(SELECT x.session_id FROM unnest(checked) x
                  WHERE x.kind IN ('session', 'fact') AND x.session_id IS NOT NULL ORDER BY x.ord),
           ARRAY(SELECT x.cause FROM unnest(checked) x
                  WHERE x.kind IN ('session', 'fact') AND x.session_id IS NOT NULL ORDER BY x.ord)) s;

  RETURN QUERY
  SELECT x.ord,
         CASE WHEN x.kind = 'done' THEN x.verdict
              WHEN x.kind = 'fact' AND x.session_id IS NULL THEN jsonb_build_object('result', 'recorded')
              WHEN x.kind = 'fact' THEN jsonb_build_object('result', 'applied', 'session_id', x.session_id)
              ELSE jsonb_build_object('result', 'applied', 'session_id', cs.id,
                                      'payment_id', (SELECT p.id FROM public.payments p WHERE p.checkout_session_id = cs.id),
                                      'user_id', cs.user_id, 'reading_id', cs.reading_id,
                                      'channels', to_jsonb(l.channels),
                                      'newly_active', coalesce(st.newly_active, false)) END
    FROM unnest(checked) x
    LEFT JOIN public.checkout_sessions cs ON x.kind = 'session' AND cs.id = x.session_id
    LEFT JOIN public.purchase_links l ON l.id = cs.purchase_link_id
    LEFT JOIN unnest(settled) st ON x.kind = 'session' AND st.session_id = x.session_id;
END $$;

-- Apply a batch of items to the ledger, as if one after another in their order. Returns each
-- item's verdict: {result, …}, result being 'applied' (a session: with session_id, payment_id,
-- user_id, reading_id, channels and newly_active, true when its entitlement became active for
-- the first time, so deliveries are due), 'recorded' (a fact whose session is not known yet),
-- 'unknown_session', 'mismatch:<field>' (nothing changed), 'no_payment_intent' or 'ignored'.
CREATE FUNCTION scrollkeep.apply_ledger(p_items scrollkeep.ledger_item[])
  RETURNS TABLE (ord integer, verdict jsonb)
  LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  work scrollkeep.ledger_work[];
  done jsonb := '{}'::jsonb;
  lock_key bigint;
  passes integer;
BEGIN
  -- What each item is: a session's news, a fact about a payment intent, or nothing to apply.
  SELECT array_agg(ROW(i.ord, c.kind, i.obj, i.event_type, i.cause, i.obj->>'payment_intent',
                       c.fact, c.ref, c.amount, NULL, NULL,
                       CASE WHEN c.kind = 'done' THEN jsonb_build_object('result', c.result) END
                      )::scrollkeep.ledger_work ORDER BY i.ord)
    INTO work
    FROM unnest(p_items) i
    CROSS JOIN LATERAL (
      SELECT CASE WHEN i.event_type = 'confirm' OR i.event_type LIKE 'checkout.session.%' THEN 'session'
                  WHEN i.obj->>'payment_intent' IS NULL THEN 'done'
                  WHEN i.event_type IN ('charge.refunded', 'refund.failed', 'charge.dispute.created',
                                        'charge.dispute.closed') THEN 'fact'
                  ELSE 'done' END AS kind,
             CASE WHEN i.event_type LIKE 'checkout.session.%' OR i.event_type = 'confirm' THEN NULL
                  WHEN i.obj->>'payment_intent' IS NULL THEN 'no_payment_intent'
                  ELSE 'ignored' END AS result,
             CASE i.event_type
               WHEN 'charge.refunded' THEN
                 CASE WHEN (i.obj->>'refunded')::boolean THEN 'refund_full' ELSE 'refund_partial' END
               WHEN 'refund.failed' THEN 'refund_failed'
               WHEN 'charge.dispute.created' THEN 'dispute_open'
               WHEN 'charge.dispute.closed' THEN
                 CASE WHEN i.obj->>'status' = 'lost' THEN 'dispute_lost' ELSE 'dispute_won' END
             END AS fact,
             CASE WHEN i.event_type = 'charge.refunded'
                  THEN coalesce(i.obj->'refunds'->'data'->0->>'id',
                                (i.obj->>'id') || ':' || (i.obj->>'amount_refunded'))
                  ELSE i.obj->>'id' END AS ref,
             CASE WHEN i.event_type = 'charge.refunded' THEN (i.obj->>'amount_refunded')::bigint
                  WHEN i.event_type IN ('refund.failed', 'charge.dispute.created', 'charge.dispute.closed')
                  THEN (i.obj->>'amount')::bigint END AS amount
    ) c;
  IF work IS NULL THEN
    RETURN;
  END IF;

  -- Serialise work on each Stripe object (the session's id, the payment intent's), taking the
  -- locks in one order.
  FOR lock_key IN
    SELECT DISTINCT hashtextextended('stripe:' || k.id, 0)
      FROM unnest(work) x
      CROSS JOIN LATERAL (VALUES (CASE WHEN x.kind = 'session' THEN x.obj->>'id' END), (x.pi)) AS k(id)
     WHERE x.kind <> 'done' AND k.id IS NOT NULL
     ORDER BY 1
  LOOP
    PERFORM pg_advisory_xact_lock(lock_key);
  END LOOP;
  PERFORM 1 FROM public.checkout_sessions cs
   WHERE cs.id IN (SELECT c.id FROM unnest(work) x JOIN public.checkout_sessions c
                       ON x.kind = 'session' AND c.stripe_checkout_session_id = x.obj->>'id'
                   UNION ALL
                   SELECT c.id FROM unnest(work) x JOIN public.checkout_sessions c
                       ON x.kind = 'fact' AND c.stripe_payment_intent_id = x.pi)
   ORDER BY cs.id FOR UPDATE OF cs;

  -- The session each item is about, and its pass: items about one session (or, before it is
  -- known, one payment intent) go one per pass, in the batch's order.
  SELECT array_agg(ROW(r.ord, r.kind, r.obj, r.event_type, r.cause, r.pi, r.fact, r.ref, r.amount,
                       r.session_id, r.pass, r.verdict)::scrollkeep.ledger_work ORDER BY r.ord)
    INTO work
    FROM (
      SELECT x.ord, CASE WHEN x.kind = 'session' AND s.id IS NULL THEN 'done' ELSE x.kind END AS kind,
             x.obj, x.event_type, x.cause, x.pi, x.fact, x.ref, x.amount, s.id AS session_id,
             CASE WHEN x.kind = 'done' OR (x.kind = 'session' AND s.id IS NULL) THEN NULL
                  ELSE row_number() OVER (PARTITION BY coalesce(s.id::text, 'pi:' || x.pi) ORDER BY x.ord) END AS pass,
             CASE WHEN x.kind = 'session' AND s.id IS NULL THEN jsonb_build_object('result', 'unknown_session')
                  ELSE x.verdict END AS verdict
        FROM unnest(work) x
        LEFT JOIN LATERAL (
          SELECT cs.id FROM public.checkout_sessions cs
           WHERE x.kind = 'session' AND cs.stripe_checkout_session_id = x.obj->>'id'
          UNION ALL
          (SELECT cs.id FROM public.checkout_sessions cs
            WHERE x.kind = 'fact' AND cs.stripe_payment_intent_id = x.pi LIMIT 1)
          UNION ALL
          -- a fact about the payment intent of a session earlier in this batch, not yet stored
          (SELECT cs.id FROM unnest(work) y JOIN public.checkout_sessions cs ON cs.stripe_checkout_session_id = y.obj->>'id'
            WHERE x.kind = 'fact' AND y.kind = 'session' AND y.pi = x.pi AND y.ord < x.ord
              AND NOT EXISTS (SELECT 1 FROM public.checkout_sessions z WHERE z.stripe_payment_intent_id = x.pi)
            LIMIT 1)
        ) s ON true
    ) r;

  SELECT max(x.pass) INTO passes FROM unnest(work) x;
  FOR p IN 1..coalesce(passes, 0) LOOP
    SELECT done || coalesce(jsonb_object_agg(v.ord::text, v.verdict), '{}'::jsonb) INTO done
      FROM scrollkeep.ledger_pass(ARRAY(SELECT x FROM unnest(work) x WHERE x.pass = p)) v;
  END LOOP;

  RETURN QUERY
  SELECT x.ord, coalesce(done -> x.ord::text, x.verdict) FROM unnest(work) x ORDER BY x.ord;
END $$;

-- Process stored events p_ids, in that order (the stripe_event_job's batch, `stripe replay`).
-- Processed and ignored events are left alone unless p_force; re-running is a no-op where it
-- was applied. Each event ends processed (its payload redacted), ignored or failed (with its
-- verdict as the error, for `stripe replay --failed`). Returns each id's verdict in order.
CREATE FUNCTION scrollkeep.process_stripe_events(p_ids bigint[], p_force boolean DEFAULT false)
  RETURNS TABLE (event_row bigint, verdict jsonb)
  LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  verdicts jsonb;
BEGIN
  PERFORM 1 FROM public.stripe_events e WHERE e.id = ANY (p_ids) ORDER BY e.id FOR UPDATE;

  SELECT coalesce(jsonb_object_agg(v.ord::text, v.verdict), '{}'::jsonb) INTO verdicts
    FROM scrollkeep.apply_ledger(ARRAY(
           SELECT ROW(i.ord, e.payload->'data'->'object', e.type, e.stripe_event_id)::scrollkeep.ledger_item
             FROM (SELECT DISTINCT ON (u.id) u.id, u.ord
                     FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord) ORDER BY u.id, u.ord) i
             JOIN public.stripe_events e ON e.id = i.id
            WHERE p_force OR e.status NOT IN ('processed', 'ignored')
            ORDER BY i.ord)) v;

  UPDATE public.stripe_events e
     SET status = o.status,
         processed_at = CASE WHEN o.status IN ('processed', 'ignored') THEN now() ELSE e.processed_at END,
         last_error = CASE WHEN o.status = 'failed' THEN o.result WHEN o.status = 'processed' THEN NULL
                           ELSE e.last_error END,
         payload = CASE WHEN o.status = 'processed' THEN scrollkeep.redact_stripe_payload(e.payload) ELSE e.payload END,
         redacted_at = CASE WHEN o.status = 'processed' THEN coalesce(e.redacted_at, now()) ELSE e.redacted_at END
    FROM (SELECT u.id, r.result,
                 CASE WHEN r.result IN ('applied', 'recorded') THEN 'processed'
                      WHEN r.result = 'ignored' THEN 'ignored' ELSE 'failed' END AS status
            FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)
            CROSS JOIN LATERAL (SELECT verdicts -> u.ord::text ->> 'result' AS result) r
           WHERE r.result IS NOT NULL) o
   WHERE e.id = o.id;

  RETURN QUERY
  SELECT u.id, coalesce(verdicts -> u.ord::text,
                        CASE WHEN e.id IS NULL THEN jsonb_build_object('result', 'no_such_event')
                             ELSE jsonb_build_object('result', 'already_' || e.status) END)
    FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)
    LEFT JOIN public.stripe_events e ON e.id = u.id
   ORDER BY u.ord;
END $$;

-- The one-event forms of migration 012, now a batch of one.
CREATE OR REPLACE FUNCTION scrollkeep.process_stripe_event(p_event bigint, p_force boolean DEFAULT false)
  RETURNS jsonb
  LANGUAGE sql VOLATILE SET search_path = ''
AS $$
  SELECT v.verdict FROM scrollkeep.process_stripe_events(ARRAY[p_event], p_force) v
$$;

CREATE OR REPLACE FUNCTION scrollkeep.apply_checkout_session(p_obj jsonb, p_event_type text, p_cause text)
  RETURNS jsonb
  LANGUAGE sql VOLATILE SET search_path = ''
AS $$
  SELECT v.verdict FROM scrollkeep.apply_ledger(ARRAY[ROW(1, p_obj, p_event_type, p_cause)::scrollkeep.ledger_item]) v
$$;

DROP FUNCTION scrollkeep.apply_payment_fact(text, text, text, bigint, text);
DROP FUNCTION scrollkeep.settle_session(uuid, text);

REVOKE ALL ON FUNCTION scrollkeep.ledger_settle(uuid[], text[]), scrollkeep.ledger_pass(scrollkeep.ledger_work[]),
  scrollkeep.apply_ledger(scrollkeep.ledger_item[]), scrollkeep.process_stripe_events(bigint[], boolean)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.ledger_settle(uuid[], text[]), scrollkeep.ledger_pass(scrollkeep.ledger_work[]),
  scrollkeep.apply_ledger(scrollkeep.ledger_item[]), scrollkeep.process_stripe_events(bigint[], boolean)
  TO service_role;
