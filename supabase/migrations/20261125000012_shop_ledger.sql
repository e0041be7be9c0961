-- The Shop's ledger: what Stripe's events mean for a payment and what it unlocks.
--
-- Stripe delivers events late, twice and out of order, so no state here is "the latest
-- event's". A checkout session's outcome only moves up a precedence (open < pending <
-- expired < failed < paid); refunds and disputes are facts, recorded once each by their own
-- ids; and the payment's and entitlement's states are derived from the outcome and all the
-- facts together, whatever order they came in. Each change of an entitlement is a row in
-- scrollkeep.entitlement_changes naming the event (or confirmation) that caused it.
--
-- Work on one Stripe object is serialised by transaction-scoped advisory locks on its ids
-- (the session's, then its payment intent's), so the webhook's job and the success page's
-- confirmation can race safely.

ALTER TABLE public.checkout_sessions
  ADD COLUMN outcome text NOT NULL DEFAULT 'open'
    CHECK (outcome IN ('open', 'pending', 'expired', 'failed', 'paid')),
  ADD COLUMN stripe_payment_intent_id text CHECK (stripe_payment_intent_id ~ '^pi_[A-Za-z0-9_]{1,250}$');
COMMENT ON COLUMN public.checkout_sessions.outcome IS 'financial: open, pending (awaiting an async payment), expired, failed or paid; only ever moves up that order';
COMMENT ON COLUMN public.checkout_sessions.stripe_payment_intent_id IS 'financial: the PaymentIntent, once Stripe names it';
CREATE INDEX checkout_sessions_payment_intent ON public.checkout_sessions (stripe_payment_intent_id)
  WHERE stripe_payment_intent_id IS NOT NULL;

CREATE FUNCTION scrollkeep.outcome_rank(outcome text) RETURNS integer
  LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$
  SELECT array_position(ARRAY['open', 'pending', 'expired', 'failed', 'paid'], outcome)
$$;

-- Refunds and disputes, by the id of the refund or dispute (a set: a repeat adds nothing).
CREATE TABLE scrollkeep.payment_facts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  payment_intent text NOT NULL CHECK (payment_intent ~ '^pi_[A-Za-z0-9_]{1,250}$'),
  fact text NOT NULL CHECK (fact IN ('refund_full', 'refund_partial', 'refund_failed',
                                     'dispute_open', 'dispute_won', 'dispute_lost')),
  ref text NOT NULL CHECK (ref ~ '^[A-Za-z0-9_:]{1,255}$'),
  amount bigint CHECK (amount >= 0),
  caused_by_event text NOT NULL CHECK (caused_by_event ~ '^evt_[A-Za-z0-9_]{1,250}$'),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (payment_intent, fact, ref)
);
COMMENT ON TABLE scrollkeep.payment_facts IS 'refunds and disputes of a payment intent, one row per fact';
COMMENT ON COLUMN scrollkeep.payment_facts.id IS 'operational: row id';
COMMENT ON COLUMN scrollkeep.payment_facts.payment_intent IS 'financial: Stripe PaymentIntent id';
COMMENT ON COLUMN scrollkeep.payment_facts.fact IS 'financial: what happened';
COMMENT ON COLUMN scrollkeep.payment_facts.ref IS 'financial: the refund, dispute or charge it is about';
COMMENT ON COLUMN scrollkeep.payment_facts.amount IS 'financial: amount refunded so far or disputed, minor units';
COMMENT ON COLUMN scrollkeep.payment_facts.caused_by_event IS 'financial: the Stripe event that told us';
COMMENT ON COLUMN scrollkeep.payment_facts.recorded_at IS 'operational: when';
REVOKE ALL ON scrollkeep.payment_facts FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT ON scrollkeep.payment_facts TO service_role;

-- The entitlement ledger: every change, and what caused it. Append-only.
CREATE TABLE scrollkeep.entitlement_changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  entitlement_id uuid NOT NULL REFERENCES public.entitlements (id) ON DELETE RESTRICT,
  from_status text CHECK (from_status IN ('pending', 'active', 'held', 'revoked', 'closed')),
  to_status text NOT NULL CHECK (to_status IN ('pending', 'active', 'held', 'revoked', 'closed')),
  caused_by_event text NOT NULL
    CHECK (caused_by_event ~ '^(evt_[A-Za-z0-9_]{1,250}|confirm:[A-Za-z0-9_]{1,250}|reconcile:[0-9]{1,18})$'),
  changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entitlement_changes_entitlement ON scrollkeep.entitlement_changes (entitlement_id, id);
COMMENT ON TABLE scrollkeep.entitlement_changes IS 'the entitlement ledger: each change and the event behind it';
COMMENT ON COLUMN scrollkeep.entitlement_changes.id IS 'operational: ledger order';
COMMENT ON COLUMN scrollkeep.entitlement_changes.entitlement_id IS 'operational: the entitlement';
COMMENT ON COLUMN scrollkeep.entitlement_changes.from_status IS 'operational: before (null when granted or first recorded)';
COMMENT ON COLUMN scrollkeep.entitlement_changes.to_status IS 'operational: after';
COMMENT ON COLUMN scrollkeep.entitlement_changes.caused_by_event IS 'financial: the Stripe event or confirmation behind it';
COMMENT ON COLUMN scrollkeep.entitlement_changes.changed_at IS 'operational: when';
REVOKE ALL ON scrollkeep.entitlement_changes FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT ON scrollkeep.entitlement_changes TO service_role;
CREATE TRIGGER entitlement_changes_append_only BEFORE UPDATE OR DELETE ON scrollkeep.entitlement_changes
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.refuse_change();

-- Reconciliation runs against the Stripe API, and what they found (ids only).
CREATE TABLE scrollkeep.stripe_reconcile_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  days integer NOT NULL CHECK (days BETWEEN 1 AND 400),
  sessions_checked integer NOT NULL DEFAULT 0 CHECK (sessions_checked >= 0),
  events_checked integer NOT NULL DEFAULT 0 CHECK (events_checked >= 0),
  mismatches jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(mismatches) = 'array'),
  error text CHECK (char_length(error) <= 500)
);
COMMENT ON TABLE scrollkeep.stripe_reconcile_runs IS 'each stripe reconcile run and its mismatches';
COMMENT ON COLUMN scrollkeep.stripe_reconcile_runs.id IS 'operational: run id';
COMMENT ON COLUMN scrollkeep.stripe_reconcile_runs.started_at IS 'operational: when it started';
COMMENT ON COLUMN scrollkeep.stripe_reconcile_runs.finished_at IS 'operational: when it finished';
COMMENT ON COLUMN scrollkeep.stripe_reconcile_runs.days IS 'operational: how far back it looked';
COMMENT ON COLUMN scrollkeep.stripe_reconcile_runs.sessions_checked IS 'operational: Checkout Sessions compared';
COMMENT ON COLUMN scrollkeep.stripe_reconcile_runs.events_checked IS 'operational: undelivered events compared';
COMMENT ON COLUMN scrollkeep.stripe_reconcile_runs.mismatches IS 'financial: [{kind, stripe id, local state, Stripe state}], ids only';
COMMENT ON COLUMN scrollkeep.stripe_reconcile_runs.error IS 'operational: why the run stopped, if it did';
REVOKE ALL ON scrollkeep.stripe_reconcile_runs FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE ON scrollkeep.stripe_reconcile_runs TO service_role;

CREATE FUNCTION scrollkeep.lock_stripe_object(object_id text) RETURNS void
  LANGUAGE sql VOLATILE SET search_path = ''
AS $$
  SELECT pg_advisory_xact_lock(hashtextextended('stripe:' || object_id, 0))
$$;

-- The payment's and entitlement's states from the session's outcome and every fact.
-- Returns whether the entitlement became active for the first time now (deliveries are due).
CREATE FUNCTION scrollkeep.settle_session(p_session uuid, p_cause text) RETURNS boolean
  LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  s public.checkout_sessions%ROWTYPE;
  link public.purchase_links%ROWTYPE;
  pr public.prices%ROWTYPE;
  pay_id uuid;
  ent public.entitlements%ROWTYPE;
  refunded bigint := 0;
  refund_revoked boolean := false;
  held boolean := false;
  lost boolean := false;
  pay_status text;
  ent_status text;
  first_grant boolean := false;
BEGIN
  SELECT * INTO s FROM public.checkout_sessions WHERE id = p_session;
  IF s.outcome = 'open' OR (s.outcome = 'expired' AND NOT EXISTS (
        SELECT 1 FROM public.payments WHERE checkout_session_id = s.id)) THEN
    RETURN false; -- nothing was ever paid or pending: no payment, no entitlement
  END IF;
  SELECT * INTO link FROM public.purchase_links WHERE id = s.purchase_link_id;
  SELECT * INTO pr FROM public.prices WHERE id = link.price_id;

  IF s.stripe_payment_intent_id IS NOT NULL THEN
    -- A full refund counts unless a refund.failed names it (or, when Stripe did not name the
    -- refund, any refund of the payment failed); a lost dispute revokes; an open one holds.
    SELECT coalesce(max(f.amount) FILTER (WHERE f.fact IN ('refund_full', 'refund_partial')
                      AND NOT EXISTS (SELECT 1 FROM scrollkeep.payment_facts x
                                      WHERE x.payment_intent = f.payment_intent AND x.fact = 'refund_failed'
                                        AND (x.ref = f.ref OR f.ref NOT LIKE 're\_%'))), 0),
           bool_or(f.fact = 'refund_full'
                   AND NOT EXISTS (SELECT 1 FROM scrollkeep.payment_facts x
                                   WHERE x.payment_intent = f.payment_intent AND x.fact = 'refund_failed'
                                     AND (x.ref = f.ref OR f.ref NOT LIKE 're\_%'))),
           bool_or(f.fact = 'dispute_open'
                   AND NOT EXISTS (SELECT 1 FROM scrollkeep.payment_facts x
                                   WHERE x.payment_intent = f.payment_intent
                                     AND x.fact IN ('dispute_won', 'dispute_lost') AND x.ref = f.ref)),
           bool_or(f.fact = 'dispute_lost')
      INTO refunded, refund_revoked, held, lost
      FROM scrollkeep.payment_facts f WHERE f.payment_intent = s.stripe_payment_intent_id;
    refunded := coalesce(refunded, 0);
    refund_revoked := coalesce(refund_revoked, false);
    held := coalesce(held, false);
    lost := coalesce(lost, false);
  END IF;

  IF s.outcome = 'paid' THEN
    ent_status := CASE WHEN lost OR refund_revoked THEN 'revoked' WHEN held THEN 'held' ELSE 'active' END;
    pay_status := CASE WHEN lost OR held THEN 'disputed' WHEN refund_revoked THEN 'refunded'
                       WHEN refunded > 0 THEN 'partially_refunded' ELSE 'paid' END;
  ELSIF s.outcome = 'pending' THEN
    ent_status := 'pending';
    pay_status := 'pending';
  ELSE
    ent_status := 'closed';
    pay_status := 'failed';
  END IF;

  INSERT INTO public.payments (checkout_session_id, stripe_payment_intent_id, user_id, subject_surrogate,
                               amount, amount_refunded, currency, livemode, status, paid_at)
  VALUES (s.id, s.stripe_payment_intent_id, s.user_id, s.subject_surrogate, coalesce(s.amount_total, pr.unit_amount),
          least(refunded, coalesce(s.amount_total, pr.unit_amount)), coalesce(s.currency, pr.currency), s.livemode,
          pay_status, CASE WHEN s.outcome = 'paid' THEN now() END)
  ON CONFLICT (checkout_session_id) DO UPDATE
    SET stripe_payment_intent_id = coalesce(public.payments.stripe_payment_intent_id, EXCLUDED.stripe_payment_intent_id),
        amount_refunded = least(EXCLUDED.amount_refunded, public.payments.amount),
        status = EXCLUDED.status,
        paid_at = coalesce(public.payments.paid_at, EXCLUDED.paid_at)
  RETURNING id INTO pay_id;

  SELECT * INTO ent FROM public.entitlements WHERE payment_id = pay_id AND product_id = pr.product_id FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO public.entitlements (payment_id, product_id, user_id, subject_surrogate, unlock_route, status,
                                     caused_by_event, granted_at, revoked_at)
    VALUES (pay_id, pr.product_id, s.user_id, s.subject_surrogate, link.unlock_route, ent_status, p_cause,
            CASE WHEN ent_status = 'active' THEN now() END,
            CASE WHEN ent_status = 'revoked' THEN now() END)
    RETURNING * INTO ent;
    INSERT INTO scrollkeep.entitlement_changes (entitlement_id, from_status, to_status, caused_by_event)
    VALUES (ent.id, NULL, ent_status, p_cause);
    RETURN ent_status = 'active';
  END IF;
  IF ent.status <> ent_status THEN
    first_grant := ent_status = 'active' AND ent.granted_at IS NULL;
    UPDATE public.entitlements
       SET status = ent_status, caused_by_event = p_cause,
           granted_at = CASE WHEN ent_status = 'active' THEN coalesce(granted_at, now()) ELSE granted_at END,
           revoked_at = CASE WHEN ent_status = 'revoked' THEN now() ELSE NULL END
     WHERE id = ent.id;
    INSERT INTO scrollkeep.entitlement_changes (entitlement_id, from_status, to_status, caused_by_event)
    VALUES (ent.id, ent.status, ent_status, p_cause);
  END IF;
  RETURN first_grant;
END
$$;

-- A Checkout Session object (from an event, or from the API on the success page): cross-check
-- it against the local catalog, move the outcome up, settle. Returns
-- {result, session_id, payment_id, user_id, reading_id, channels, newly_active}; result is
-- 'applied', 'unknown_session' or 'mismatch:<field>' (nothing changed).
CREATE FUNCTION scrollkeep.apply_checkout_session(p_obj jsonb, p_event_type text, p_cause text) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  s public.checkout_sessions%ROWTYPE;
  link public.purchase_links%ROWTYPE;
  pr public.prices%ROWTYPE;
  proposed text;
  pi text := p_obj->>'payment_intent';
  newly boolean;
  pay uuid;
BEGIN
  PERFORM scrollkeep.lock_stripe_object(p_obj->>'id');
  SELECT * INTO s FROM public.checkout_sessions WHERE stripe_checkout_session_id = p_obj->>'id' FOR UPDATE;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('result', 'unknown_session');
  END IF;
  IF pi IS NOT NULL THEN
    PERFORM scrollkeep.lock_stripe_object(pi);
  END IF;
  SELECT * INTO link FROM public.purchase_links WHERE id = s.purchase_link_id;
  SELECT * INTO pr FROM public.prices WHERE id = link.price_id;
  -- Unlock nothing that does not match what was sold.
  IF (p_obj->>'livemode')::boolean IS DISTINCT FROM pr.livemode THEN
    RETURN jsonb_build_object('result', 'mismatch:livemode');
  ELSIF p_obj->'metadata'->>'purchase_link' IS DISTINCT FROM link.slug THEN
    RETURN jsonb_build_object('result', 'mismatch:price');
  ELSIF p_obj->>'currency' IS DISTINCT FROM pr.currency THEN
    RETURN jsonb_build_object('result', 'mismatch:currency');
  ELSIF (p_obj->>'amount_total')::bigint IS DISTINCT FROM pr.unit_amount THEN
    RETURN jsonb_build_object('result', 'mismatch:amount');
  END IF;

  proposed := CASE
    WHEN p_event_type = 'checkout.session.async_payment_succeeded' THEN 'paid'
    WHEN p_event_type = 'checkout.session.async_payment_failed' THEN 'failed'
    WHEN p_event_type = 'checkout.session.expired' OR p_obj->>'status' = 'expired' THEN 'expired'
    WHEN p_obj->>'status' = 'complete' AND p_obj->>'payment_status' IN ('paid', 'no_payment_required') THEN 'paid'
    WHEN p_obj->>'status' = 'complete' THEN 'pending'
    ELSE 'open' END;
  UPDATE public.checkout_sessions
     SET outcome = CASE WHEN scrollkeep.outcome_rank(proposed) > scrollkeep.outcome_rank(outcome) THEN proposed ELSE outcome END,
         status = CASE WHEN proposed IN ('paid', 'pending', 'failed') OR status = 'complete' THEN 'complete'
                       WHEN proposed = 'expired' THEN 'expired' ELSE status END,
         payment_status = CASE WHEN scrollkeep.outcome_rank(proposed) >= scrollkeep.outcome_rank(outcome)
                                    AND p_obj->>'payment_status' IN ('paid', 'unpaid', 'no_payment_required')
                               THEN p_obj->>'payment_status' ELSE payment_status END,
         stripe_payment_intent_id = coalesce(stripe_payment_intent_id, pi),
         amount_total = coalesce(amount_total, (p_obj->>'amount_total')::bigint),
         currency = coalesce(currency, p_obj->>'currency'),
         completed_at = CASE WHEN proposed IN ('paid', 'pending', 'failed') THEN coalesce(completed_at, now()) ELSE completed_at END
   WHERE id = s.id;
  newly := scrollkeep.settle_session(s.id, p_cause);
  SELECT id INTO pay FROM public.payments WHERE checkout_session_id = s.id;
  RETURN jsonb_build_object('result', 'applied', 'session_id', s.id, 'payment_id', pay, 'user_id', s.user_id,
                            'reading_id', s.reading_id, 'channels', to_jsonb(link.channels),
                            'newly_active', newly);
END
$$;

-- A refund or dispute fact about a payment intent: record it (once), settle its session if
-- it is known yet (a refund may arrive before the completion; the completion then settles).
CREATE FUNCTION scrollkeep.apply_payment_fact(p_pi text, p_fact text, p_ref text, p_amount bigint,
                                              p_cause text) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  sid uuid;
BEGIN
  PERFORM scrollkeep.lock_stripe_object(p_pi);
  INSERT INTO scrollkeep.payment_facts (payment_intent, fact, ref, amount, caused_by_event)
  VALUES (p_pi, p_fact, p_ref, p_amount, p_cause)
  ON CONFLICT (payment_intent, fact, ref) DO NOTHING;
  SELECT id INTO sid FROM public.checkout_sessions WHERE stripe_payment_intent_id = p_pi;
  IF sid IS NULL THEN
    RETURN jsonb_build_object('result', 'recorded');
  END IF;
  PERFORM scrollkeep.settle_session(sid, p_cause);
  RETURN jsonb_build_object('result', 'applied', 'session_id', sid);
END
$$;

-- What may be removed from a stored payload once processed: who paid, not what was paid.
CREATE FUNCTION scrollkeep.redact_stripe_payload(p jsonb) RETURNS jsonb
  LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$
  SELECT p #- '{data,object,customer_details}' #- '{data,object,customer_email}'
           #- '{data,object,shipping_details}' #- '{data,object,shipping}'
           #- '{data,object,billing_details}' #- '{data,object,receipt_email}'
           #- '{data,object,collected_information}' #- '{data,object,evidence}'
           #- '{data,previous_attributes}'
$$;

-- Process one stored event (the stripe_event_job, and `stripe replay`). Processed and ignored
-- events are left alone unless p_force; re-running is a no-op where it was applied.
CREATE FUNCTION scrollkeep.process_stripe_event(p_event bigint, p_force boolean DEFAULT false) RETURNS jsonb
  LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  ev public.stripe_events%ROWTYPE;
  obj jsonb;
  out jsonb;
  refund_ref text;
BEGIN
  SELECT * INTO ev FROM public.stripe_events WHERE id = p_event FOR UPDATE;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('result', 'no_such_event');
  END IF;
  IF ev.status IN ('processed', 'ignored') AND NOT p_force THEN
    RETURN jsonb_build_object('result', 'already_' || ev.status);
  END IF;
  obj := ev.payload->'data'->'object';
  IF ev.type LIKE 'checkout.session.%' THEN
    out := scrollkeep.apply_checkout_session(obj, ev.type, ev.stripe_event_id);
  ELSIF obj->>'payment_intent' IS NULL THEN
    out := jsonb_build_object('result', 'no_payment_intent');
  ELSIF ev.type = 'charge.refunded' THEN
    refund_ref := coalesce(obj->'refunds'->'data'->0->>'id', (obj->>'id') || ':' || (obj->>'amount_refunded'));
    out := scrollkeep.apply_payment_fact(obj->>'payment_intent',
             CASE WHEN (obj->>'refunded')::boolean THEN 'refund_full' ELSE 'refund_partial' END,
             refund_ref, (obj->>'amount_refunded')::bigint, ev.stripe_event_id);
  ELSIF ev.type = 'refund.failed' THEN
    out := scrollkeep.apply_payment_fact(obj->>'payment_intent', 'refund_failed', obj->>'id',
                                         (obj->>'amount')::bigint, ev.stripe_event_id);
  ELSIF ev.type = 'charge.dispute.created' THEN
    out := scrollkeep.apply_payment_fact(obj->>'payment_intent', 'dispute_open', obj->>'id',
                                         (obj->>'amount')::bigint, ev.stripe_event_id);
  ELSIF ev.type = 'charge.dispute.closed' THEN
    out := scrollkeep.apply_payment_fact(obj->>'payment_intent',
             CASE WHEN obj->>'status' = 'lost' THEN 'dispute_lost' ELSE 'dispute_won' END,
             obj->>'id', (obj->>'amount')::bigint, ev.stripe_event_id);
  ELSE
    UPDATE public.stripe_events SET status = 'ignored', processed_at = now() WHERE id = ev.id;
    RETURN jsonb_build_object('result', 'ignored');
  END IF;

  IF out->>'result' IN ('applied', 'recorded') THEN
    UPDATE public.stripe_events
       SET status = 'processed', processed_at = now(), last_error = NULL,
           payload = scrollkeep.redact_stripe_payload(payload), redacted_at = coalesce(redacted_at, now())
     WHERE id = ev.id;
  ELSE
    UPDATE public.stripe_events SET status = 'failed', last_error = out->>'result' WHERE id = ev.id;
  END IF;
  RETURN out;
END
$$;

REVOKE ALL ON FUNCTION scrollkeep.outcome_rank(text), scrollkeep.lock_stripe_object(text),
  scrollkeep.settle_session(uuid, text), scrollkeep.apply_checkout_session(jsonb, text, text),
  scrollkeep.apply_payment_fact(text, text, text, bigint, text), scrollkeep.redact_stripe_payload(jsonb),
  scrollkeep.process_stripe_event(bigint, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.outcome_rank(text), scrollkeep.lock_stripe_object(text),
  scrollkeep.settle_session(uuid, text), scrollkeep.apply_checkout_session(jsonb, text, text),
  scrollkeep.apply_payment_fact(text, text, text, bigint, text), scrollkeep.redact_stripe_payload(jsonb),
  scrollkeep.process_stripe_event(bigint, boolean) TO service_role;
