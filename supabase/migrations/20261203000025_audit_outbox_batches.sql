-- The money's audit events, one outbox row per statement instead of one per event.
--
-- A purchase wrote two outbox rows (payment.recorded, entitlement.granted), each a heap tuple,
-- a key, four regular expressions and two renderings of its details as text, and each was
-- deleted again by the flush: 34 µs an event of the ledger's 370, and a third of the flush.
-- The triggers on payments, scrollkeep.payment_facts and scrollkeep.entitlement_changes now
-- write one row per statement into scrollkeep.audit_outbox_batches, holding the statement's
-- events as an array (scrollkeep.audit_event) in order, each with the moment it was recorded
-- in its details; the flush expands
-- the arrays into the chain. Nothing changes in the trail: the same actions, subjects and
-- details (recorded_at included), every row still checked by admin_audit_events' own CHECKs.
--
-- Only the trigger functions (SECURITY DEFINER, owned by the migrations' owner) can write the
-- table: no API role has any privilege on it. Its rows are built from constants and the
-- ledger's own columns (keys, amounts, currencies, statuses, Stripe ids), each already held to
-- its form by its table's CHECKs, so the batch is checked once, where it lands: by
-- admin_audit_events' CHECKs (no address, ever, among them). Single events written
-- by scrollkeep.audit_system_event (the privacy workflows) keep scrollkeep.audit_outbox.

-- An event as the statement triggers record it: the trail's columns, details with the moment
-- it was recorded.
CREATE TYPE scrollkeep.audit_event AS (
  actor text, actor_role text, action text, subject_type text, subject_id text, details jsonb
);

CREATE TABLE scrollkeep.audit_outbox_batches (
  -- Drawn from the single events' sequence, so that both tables flush in one order.
  id bigint PRIMARY KEY DEFAULT nextval('scrollkeep.audit_outbox_id_seq'),
  events scrollkeep.audit_event[] NOT NULL
);
-- Kept whole, out of line: a statement's batch is tens of kilobytes that live for a second,
-- and compressing them cost more than the rest of their way (pglz, measured).
ALTER TABLE scrollkeep.audit_outbox_batches ALTER COLUMN events SET STORAGE EXTERNAL;
COMMENT ON TABLE scrollkeep.audit_outbox_batches IS 'operator events on their way into admin_audit_events, a statement''s at a time';
COMMENT ON COLUMN scrollkeep.audit_outbox_batches.id IS 'operational: order of recording (shared with audit_outbox)';
COMMENT ON COLUMN scrollkeep.audit_outbox_batches.events IS 'operational: the events, in order: actor, action, subject and details (ids and amounts)';
REVOKE ALL ON scrollkeep.audit_outbox_batches FROM PUBLIC, anon, authenticated, service_role;
ALTER TABLE scrollkeep.audit_outbox_batches ENABLE ROW LEVEL SECURITY;

-- Move up to max_events single events and max_events / 64 statements' batches from the outboxes
-- into the chain, oldest first, in the caller's transaction; returns how many events moved.
-- SKIP LOCKED lets two flushers share the work without waiting.
CREATE OR REPLACE FUNCTION scrollkeep.audit_flush(max_events integer) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  moved integer;
BEGIN
  WITH one AS (
    DELETE FROM scrollkeep.audit_outbox o
     WHERE o.id IN (SELECT x.id FROM scrollkeep.audit_outbox x ORDER BY x.id LIMIT max_events FOR UPDATE SKIP LOCKED)
    RETURNING o.id, 1::bigint AS ord, o.actor, o.actor_role, o.action, o.subject_type, o.subject_id,
              o.details || jsonb_build_object('recorded_at', o.recorded_at) AS details
  ), many AS (
    DELETE FROM scrollkeep.audit_outbox_batches b
     WHERE b.id IN (SELECT x.id FROM scrollkeep.audit_outbox_batches x ORDER BY x.id
                     LIMIT greatest(max_events / 64, 1) FOR UPDATE SKIP LOCKED)
    RETURNING b.id, b.events
  ), taken AS (
    SELECT * FROM one
    UNION ALL
    SELECT m.id, e.ord, e.actor, e.actor_role, e.action, e.subject_type, e.subject_id, e.details
      FROM many m CROSS JOIN LATERAL unnest(m.events) WITH ORDINALITY
           AS e(actor, actor_role, action, subject_type, subject_id, details, ord)
  )
  INSERT INTO public.admin_audit_events (actor, actor_role, action, subject_type, subject_id, details)
  SELECT t.actor, t.actor_role, t.action, t.subject_type, t.subject_id, t.details
    FROM taken t ORDER BY t.id, t.ord;
  GET DIAGNOSTICS moved = ROW_COUNT;
  RETURN moved;
END $$;

CREATE OR REPLACE FUNCTION scrollkeep.audit_payment_recorded() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  INSERT INTO scrollkeep.audit_outbox_batches (events)
  SELECT array_agg(ROW('stripe', 'system', 'payment.recorded', 'payment', n.id::text,
           jsonb_build_object('checkout_session', n.checkout_session_id,
                              'payment_intent', n.stripe_payment_intent_id, 'amount', n.amount,
                              'currency', n.currency, 'status', n.status, 'livemode', n.livemode,
                              'recorded_at', clock_timestamp()))::scrollkeep.audit_event
           ORDER BY n.checkout_session_id)
    FROM inserted n
  HAVING count(*) > 0;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION scrollkeep.audit_payment_fact() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  INSERT INTO scrollkeep.audit_outbox_batches (events)
  SELECT array_agg(ROW('stripe', 'system',
           CASE n.fact WHEN 'refund_full' THEN 'refund.recorded' WHEN 'refund_partial' THEN 'refund.recorded'
                       WHEN 'refund_failed' THEN 'refund.failed' WHEN 'dispute_open' THEN 'dispute.opened'
                       ELSE 'dispute.closed' END,
           'payment_intent', CASE WHEN char_length(n.payment_intent) <= 80 THEN n.payment_intent END,
           jsonb_build_object('payment_intent', n.payment_intent, 'fact', n.fact, 'ref', n.ref,
                              'amount', n.amount, 'stripe_event', n.caused_by_event,
                              'recorded_at', clock_timestamp()))::scrollkeep.audit_event
           ORDER BY n.id)
    FROM inserted n
  HAVING count(*) > 0;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION scrollkeep.audit_entitlement_change() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  INSERT INTO scrollkeep.audit_outbox_batches (events)
  SELECT array_agg(ROW(
           -- scrollkeep.audit_cause_actor(n.caused_by_event), written out
           CASE WHEN n.caused_by_event LIKE 'confirm:%' THEN 'checkout'
                WHEN n.caused_by_event LIKE 'reconcile:%' THEN 'reconcile' ELSE 'stripe' END,
           'system',
           CASE WHEN n.to_status = 'active' AND n.from_status IN ('held', 'revoked') THEN 'entitlement.restored'
                WHEN n.to_status = 'active' THEN 'entitlement.granted'
                ELSE 'entitlement.' || n.to_status END,
           'entitlement', n.entitlement_id::text,
           jsonb_build_object('from', n.from_status, 'to', n.to_status, 'cause', n.caused_by_event,
                              'recorded_at', clock_timestamp()))::scrollkeep.audit_event
           ORDER BY n.id)
    FROM inserted n
  HAVING count(*) > 0;
  RETURN NULL;
END $$;
