-- The ledger's per-event overhead, measured against a floor: the same rows written by plain
-- set-based statements (the same triggers, keys and checks) cost 330 - 360 µs an event of one
-- backend's CPU on a 2-core VM; the ledger itself 460 - 480 (batches of 128 events). The
-- difference went to calls made once per row where once per batch does, and to the plpgsql
-- machinery around them:
--
--   * the existing entitlements were found by a hash join over the whole table, twice a batch
--     (the plan made for 128 rows), a cost that grew with every sale ever made; they are found
--     by payment id through their index (tests/node/ledger_scale.test.mjs).
--   * outcome_rank, an SQL function with SET search_path (so never inlined), was called four
--     times for every session updated: a function call with its own executor each time. The
--     update spells the same ranks out as one array_position.
--   * the Stripe objects' advisory locks were taken one PERFORM at a time (two statements an
--     event); they are taken in one statement, in the same order.
--   * the verdict read each session's payment back by a subquery; the settle step returns it.
--   * the verdicts went from step to step as jsonb objects keyed by position, every verdict
--     encoded again at each step; they go as arrays of (position, verdict).
--   * every updated session, payment and entitlement ran touch_updated_at (PL/pgSQL); the
--     ledger sets updated_at itself and the triggers' WHEN clause skips the call for such a
--     writer, as delivery_jobs' does (any other writer still gets it).
--
-- The ledger's rules, its lock order and its verdicts are unchanged.

DROP TRIGGER checkout_sessions_touch ON public.checkout_sessions;
CREATE TRIGGER checkout_sessions_touch BEFORE UPDATE ON public.checkout_sessions
  FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
  EXECUTE FUNCTION scrollkeep.touch_updated_at();
DROP TRIGGER payments_touch ON public.payments;
CREATE TRIGGER payments_touch BEFORE UPDATE ON public.payments
  FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
  EXECUTE FUNCTION scrollkeep.touch_updated_at();
DROP TRIGGER entitlements_touch ON public.entitlements;
CREATE TRIGGER entitlements_touch BEFORE UPDATE ON public.entitlements
  FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
  EXECUTE FUNCTION scrollkeep.touch_updated_at();

-- An item's verdict, as the ledger passes it on (an array of these is copied; a jsonb object
-- keyed by position was rebuilt, every verdict encoded again, at each step).
CREATE TYPE scrollkeep.ledger_verdict AS (ord integer, verdict jsonb);

CREATE OR REPLACE FUNCTION scrollkeep.ledger_settle(p_sessions uuid[], p_causes text[])
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
          paid_at = coalesce(public.payments.paid_at, EXCLUDED.paid_at),
          updated_at = now()
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
  -- (= ANY keeps both lookups on the (payment_id, product_id) index whatever the plan)
  PERFORM 1 FROM public.entitlements e JOIN unnest(decided) d
      ON e.payment_id = d.payment_id AND e.product_id = d.product_id
   WHERE e.payment_id = ANY (ARRAY(SELECT x.payment_id FROM unnest(decided) x))
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
       AND e.payment_id = ANY (ARRAY(SELECT x.payment_id FROM unnest(decided) x))
  ), moved AS (
    UPDATE public.entitlements e
       SET status = d.ent_status, caused_by_event = d.cause,
           granted_at = CASE WHEN d.ent_status = 'active' THEN coalesce(e.granted_at, now()) ELSE e.granted_at END,
           revoked_at = CASE WHEN d.ent_status = 'revoked' THEN now() ELSE NULL END,
           updated_at = now()
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

CREATE OR REPLACE FUNCTION scrollkeep.ledger_pass(p_items scrollkeep.ledger_work[])
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
     SET outcome = CASE WHEN array_position(ARRAY['open', 'pending', 'expired', 'failed', 'paid'], u.proposed)
                             > array_position(ARRAY['open', 'pending', 'expired', 'failed', 'paid'], cs.outcome)
                        THEN u.proposed ELSE cs.outcome END,
         status = CASE WHEN u.proposed IN ('paid', 'pending', 'failed') OR cs.status = 'complete' THEN 'complete'
                       WHEN u.proposed = 'expired' THEN 'expired' ELSE cs.status END,
         payment_status = CASE WHEN array_position(ARRAY['open', 'pending', 'expired', 'failed', 'paid'], u.proposed)
                                    >= array_position(ARRAY['open', 'pending', 'expired', 'failed', 'paid'], cs.outcome)
                                    AND u.obj->>'payment_status' IN ('paid', 'unpaid', 'no_payment_required')
                               THEN u.obj->>'payment_status' ELSE cs.payment_status END,
         stripe_payment_intent_id = coalesce(cs.stripe_payment_intent_id, u.pi),
         amount_total = coalesce(cs.amount_total, (u.obj->>'amount_total')::bigint),
         currency = coalesce(cs.currency, u.obj->>'currency'),
         completed_at = CASE WHEN u.proposed IN ('paid', 'pending', 'failed')
                             THEN coalesce(cs.completed_at, now()) ELSE cs.completed_at END,
         updated_at = now()
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
                                      'payment_id', coalesce(st.payment_id,
                                        (SELECT p.id FROM public.payments p WHERE p.checkout_session_id = cs.id)),
                                      'user_id', cs.user_id, 'reading_id', cs.reading_id,
                                      'channels', to_jsonb(l.channels),
                                      'newly_active', coalesce(st.newly_active, false)) END
    FROM unnest(checked) x
    LEFT JOIN public.checkout_sessions cs ON x.kind = 'session' AND cs.id = x.session_id
    LEFT JOIN public.purchase_links l ON l.id = cs.purchase_link_id
    LEFT JOIN unnest(settled) st ON x.kind = 'session' AND st.session_id = x.session_id;
END $$;

CREATE OR REPLACE FUNCTION scrollkeep.apply_ledger(p_items scrollkeep.ledger_item[])
  RETURNS TABLE (ord integer, verdict jsonb)
  LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  work scrollkeep.ledger_work[];
  done scrollkeep.ledger_verdict[] := '{}';
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
  -- (The sorted subquery is read in its order, so the locks are taken in it.)
  PERFORM pg_advisory_xact_lock(l.key)
     FROM (SELECT DISTINCT hashtextextended('stripe:' || k.id, 0) AS key
             FROM unnest(work) x
             CROSS JOIN LATERAL (VALUES (CASE WHEN x.kind = 'session' THEN x.obj->>'id' END), (x.pi)) AS k(id)
            WHERE x.kind <> 'done' AND k.id IS NOT NULL
            ORDER BY 1 OFFSET 0) l;
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
    done := done || ARRAY(SELECT ROW(v.ord, v.verdict)::scrollkeep.ledger_verdict
                            FROM scrollkeep.ledger_pass(ARRAY(SELECT x FROM unnest(work) x WHERE x.pass = p)) v);
  END LOOP;

  RETURN QUERY
  SELECT x.ord, coalesce(d.verdict, x.verdict)
    FROM unnest(work) x LEFT JOIN unnest(done) d ON d.ord = x.ord
   ORDER BY x.ord;
END $$;

CREATE OR REPLACE FUNCTION scrollkeep.process_stripe_events(p_ids bigint[], p_force boolean DEFAULT false)
  RETURNS TABLE (event_row bigint, verdict jsonb)
  LANGUAGE plpgsql VOLATILE SET search_path = ''
AS $$
DECLARE
  verdicts scrollkeep.ledger_verdict[];
BEGIN
  PERFORM 1 FROM public.stripe_events e WHERE e.id = ANY (p_ids) ORDER BY e.id FOR UPDATE;

  verdicts := ARRAY(
    SELECT ROW(v.ord, v.verdict)::scrollkeep.ledger_verdict
      FROM scrollkeep.apply_ledger(ARRAY(
           SELECT ROW(i.ord, e.payload->'data'->'object', e.type, e.stripe_event_id)::scrollkeep.ledger_item
             FROM (SELECT DISTINCT ON (u.id) u.id, u.ord
                     FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord) ORDER BY u.id, u.ord) i
             JOIN public.stripe_events e ON e.id = i.id
            WHERE p_force OR e.status NOT IN ('processed', 'ignored')
            ORDER BY i.ord)) v);

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
            JOIN (SELECT v.ord, v.verdict ->> 'result' AS result FROM unnest(verdicts) v) r ON r.ord = u.ord
           WHERE r.result IS NOT NULL) o
   WHERE e.id = o.id;

  RETURN QUERY
  SELECT u.id, coalesce(v.verdict,
                        (SELECT jsonb_build_object('result', 'already_' || e.status)
                           FROM public.stripe_events e WHERE e.id = u.id),
                        jsonb_build_object('result', 'no_such_event'))
    FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)
    LEFT JOIN unnest(verdicts) v ON v.ord = u.ord
   ORDER BY u.ord;
END $$;

-- The ledger's statements take arrays whose contents the planner cannot see in a generic plan,
-- so PL/pgSQL kept planning them afresh for every batch (custom plans: 5 % of the ledger's
-- instructions). Each of them reads the big tables through their indexes whatever the batch
-- holds (the entitlements above included, which a custom plan for 128 rows read by a
-- sequential scan of the whole table), so they are planned once per session.
ALTER FUNCTION scrollkeep.process_stripe_events(bigint[], boolean) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION scrollkeep.apply_ledger(scrollkeep.ledger_item[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION scrollkeep.ledger_pass(scrollkeep.ledger_work[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION scrollkeep.ledger_settle(uuid[], text[]) SET plan_cache_mode = force_generic_plan;
