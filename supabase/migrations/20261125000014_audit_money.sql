-- The money's trail: every payment recorded, every refund and dispute learned of, and every
-- change of an entitlement is an operator event, written by the database in the transaction
-- that made it (so no writer, scrollkeep or not, can change the ledger without leaving the
-- event). Events name ids, amounts and the Stripe event behind them; never a person's name,
-- e-mail address or anything they wrote.
--
-- They are written to an outbox, not to the chain: appending to the chain holds its lock until
-- commit, so every payment would wait for the one before it to reach the disk. The worker moves
-- the outbox into the chain, in order, many events per transaction (scrollkeep.audit_flush,
-- every two seconds and when it stops); each keeps the time it was recorded in its details.

CREATE TABLE scrollkeep.audit_outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  actor text NOT NULL CHECK (actor ~ '^[a-z0-9][a-z0-9._:-]{0,79}$'),
  actor_role text NOT NULL CHECK (actor_role IN ('operator', 'service', 'system', 'person')),
  action text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' AND char_length(action) <= 80),
  subject_type text CHECK (subject_type ~ '^[a-z_]{1,40}$'),
  subject_id text CHECK (subject_id ~ '^[A-Za-z0-9_.:-]{1,80}$'),
  details jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(details) = 'object' AND octet_length(details::text) <= 4000
           AND details::text !~ '[^[:space:]@"]+@[^[:space:]@"]+'),
  recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE scrollkeep.audit_outbox IS 'operator events on their way into admin_audit_events';
COMMENT ON COLUMN scrollkeep.audit_outbox.id IS 'operational: order of recording';
COMMENT ON COLUMN scrollkeep.audit_outbox.actor IS 'operational: stripe, checkout or reconcile';
COMMENT ON COLUMN scrollkeep.audit_outbox.actor_role IS 'operational: system';
COMMENT ON COLUMN scrollkeep.audit_outbox.action IS 'operational: what was done (noun.verb)';
COMMENT ON COLUMN scrollkeep.audit_outbox.subject_type IS 'operational: kind of object acted on';
COMMENT ON COLUMN scrollkeep.audit_outbox.subject_id IS 'operational: id of the object acted on';
COMMENT ON COLUMN scrollkeep.audit_outbox.details IS 'operational: ids and amounts';
COMMENT ON COLUMN scrollkeep.audit_outbox.recorded_at IS 'operational: when it happened';
REVOKE ALL ON scrollkeep.audit_outbox FROM PUBLIC, anon, authenticated, service_role;
GRANT INSERT ON scrollkeep.audit_outbox TO service_role;

-- Move up to max_events events from the outbox into the chain, oldest first, in the caller's
-- transaction; returns how many. SKIP LOCKED lets two flushers share the work without waiting.
CREATE FUNCTION scrollkeep.audit_flush(max_events integer) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  moved integer;
BEGIN
  WITH taken AS (
    DELETE FROM scrollkeep.audit_outbox o
     WHERE o.id IN (SELECT x.id FROM scrollkeep.audit_outbox x ORDER BY x.id LIMIT max_events FOR UPDATE SKIP LOCKED)
    RETURNING o.*
  )
  INSERT INTO public.admin_audit_events (actor, actor_role, action, subject_type, subject_id, details)
  SELECT t.actor, t.actor_role, t.action, t.subject_type, t.subject_id,
         t.details || jsonb_build_object('recorded_at', t.recorded_at)
    FROM taken t ORDER BY t.id;
  GET DIAGNOSTICS moved = ROW_COUNT;
  RETURN moved;
END $$;
REVOKE ALL ON FUNCTION scrollkeep.audit_flush(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.audit_flush(integer) TO service_role;

-- Who acted, from what caused the change: a Stripe event, the success page, or reconcile.
CREATE FUNCTION scrollkeep.audit_cause_actor(cause text) RETURNS text
  LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$
  SELECT CASE WHEN cause LIKE 'confirm:%' THEN 'checkout'
              WHEN cause LIKE 'reconcile:%' THEN 'reconcile'
              ELSE 'stripe' END
$$;

-- Record one system event in the outbox. subject_id is kept only when it fits the trail's id
-- form; the full id is in details either way.
CREATE FUNCTION scrollkeep.audit_system_event(actor text, action text, subject_type text,
                                              subject_id text, details jsonb) RETURNS void
  LANGUAGE sql SET search_path = ''
AS $$
  INSERT INTO scrollkeep.audit_outbox (actor, actor_role, action, subject_type, subject_id, details)
  VALUES (actor, 'system', action, subject_type,
          CASE WHEN subject_id ~ '^[A-Za-z0-9_.:-]{1,80}$' THEN subject_id END, details)
$$;

CREATE FUNCTION scrollkeep.audit_payment_recorded() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  PERFORM scrollkeep.audit_system_event('stripe', 'payment.recorded', 'payment', NEW.id::text,
    jsonb_build_object('checkout_session', NEW.checkout_session_id, 'payment_intent', NEW.stripe_payment_intent_id,
                       'amount', NEW.amount, 'currency', NEW.currency, 'status', NEW.status,
                       'livemode', NEW.livemode));
  RETURN NULL;
END $$;
CREATE TRIGGER payments_audit AFTER INSERT ON public.payments
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.audit_payment_recorded();

CREATE FUNCTION scrollkeep.audit_payment_fact() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  PERFORM scrollkeep.audit_system_event('stripe',
    CASE NEW.fact WHEN 'refund_full' THEN 'refund.recorded' WHEN 'refund_partial' THEN 'refund.recorded'
                  WHEN 'refund_failed' THEN 'refund.failed' WHEN 'dispute_open' THEN 'dispute.opened'
                  ELSE 'dispute.closed' END,
    'payment_intent', NEW.payment_intent,
    jsonb_build_object('payment_intent', NEW.payment_intent, 'fact', NEW.fact, 'ref', NEW.ref,
                       'amount', NEW.amount, 'stripe_event', NEW.caused_by_event));
  RETURN NULL;
END $$;
CREATE TRIGGER payment_facts_audit AFTER INSERT ON scrollkeep.payment_facts
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.audit_payment_fact();

CREATE FUNCTION scrollkeep.audit_entitlement_change() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  PERFORM scrollkeep.audit_system_event(scrollkeep.audit_cause_actor(NEW.caused_by_event),
    CASE WHEN NEW.to_status = 'active' AND NEW.from_status IN ('held', 'revoked') THEN 'entitlement.restored'
         WHEN NEW.to_status = 'active' THEN 'entitlement.granted'
         ELSE 'entitlement.' || NEW.to_status END,
    'entitlement', NEW.entitlement_id::text,
    jsonb_build_object('from', NEW.from_status, 'to', NEW.to_status, 'cause', NEW.caused_by_event));
  RETURN NULL;
END $$;
CREATE TRIGGER entitlement_changes_audit AFTER INSERT ON scrollkeep.entitlement_changes
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.audit_entitlement_change();

REVOKE ALL ON FUNCTION scrollkeep.audit_cause_actor(text), scrollkeep.audit_system_event(text, text, text, text, jsonb),
  scrollkeep.audit_payment_recorded(), scrollkeep.audit_payment_fact(), scrollkeep.audit_entitlement_change()
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.audit_cause_actor(text), scrollkeep.audit_system_event(text, text, text, text, jsonb)
  TO service_role;

-- The chain's head, kept in one row. Appending read "the last row" of admin_audit_events
-- (ORDER BY chain_seq DESC LIMIT 1) while holding the chain's lock; in a long-lived session
-- its cached plan, made while the trail was small, scanned the whole table, and every payment
-- waited behind it. The head row is read and moved under the same lock, in constant time.
CREATE TABLE scrollkeep.audit_chain_head (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  chain_seq bigint NOT NULL CHECK (chain_seq >= 0),
  row_hash text CHECK (row_hash ~ '^[0-9a-f]{64}$'),
  CHECK ((chain_seq = 0) = (row_hash IS NULL))
);
COMMENT ON TABLE scrollkeep.audit_chain_head IS 'the last chain_seq and row_hash of admin_audit_events';
COMMENT ON COLUMN scrollkeep.audit_chain_head.singleton IS 'operational: the one row';
COMMENT ON COLUMN scrollkeep.audit_chain_head.chain_seq IS 'operational: last position in the chain (0: empty)';
COMMENT ON COLUMN scrollkeep.audit_chain_head.row_hash IS 'operational: the last row''s hash';
REVOKE ALL ON scrollkeep.audit_chain_head FROM PUBLIC, anon, authenticated, service_role;
INSERT INTO scrollkeep.audit_chain_head (chain_seq, row_hash)
SELECT coalesce(max(chain_seq), 0),
       (SELECT e.row_hash FROM public.admin_audit_events e ORDER BY e.chain_seq DESC LIMIT 1)
  FROM public.admin_audit_events;

CREATE OR REPLACE FUNCTION scrollkeep.audit_chain_append() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  head scrollkeep.audit_chain_head%ROWTYPE;
BEGIN
  PERFORM pg_advisory_xact_lock(7379076523651072); -- 'audit' chain lock
  SELECT * INTO head FROM scrollkeep.audit_chain_head;
  NEW.chain_seq := head.chain_seq + 1;
  NEW.prev_hash := head.row_hash;
  NEW.occurred_at := clock_timestamp();
  NEW.row_hash := scrollkeep.audit_row_hash(NEW.prev_hash, NEW.chain_seq, NEW.occurred_at,
    NEW.actor, NEW.actor_role, NEW.action, NEW.subject_type, NEW.subject_id, NEW.reason, NEW.details);
  UPDATE scrollkeep.audit_chain_head SET chain_seq = NEW.chain_seq, row_hash = NEW.row_hash;
  RETURN NEW;
END $$;

-- The private schema under Row Level Security too, as defence in depth: it is not exposed
-- through the API and its grants already limit service_role, but a grant given later by
-- mistake should still meet a policy. Each service_role policy covers exactly what its grants
-- allow; tables only the owner's functions touch have no policy at all.
ALTER TABLE scrollkeep.audit_outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_outbox_service_insert ON scrollkeep.audit_outbox FOR INSERT TO service_role WITH CHECK (true);
ALTER TABLE scrollkeep.audit_chain_head ENABLE ROW LEVEL SECURITY;
ALTER TABLE scrollkeep.ledger_erasures ENABLE ROW LEVEL SECURITY;
ALTER TABLE scrollkeep.job_kinds ENABLE ROW LEVEL SECURITY;
CREATE POLICY job_kinds_service ON scrollkeep.job_kinds FOR ALL TO service_role USING (true) WITH CHECK (true);
ALTER TABLE scrollkeep.payment_facts ENABLE ROW LEVEL SECURITY;
CREATE POLICY payment_facts_service ON scrollkeep.payment_facts FOR ALL TO service_role USING (true) WITH CHECK (true);
ALTER TABLE scrollkeep.entitlement_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY entitlement_changes_service ON scrollkeep.entitlement_changes FOR ALL TO service_role USING (true) WITH CHECK (true);
ALTER TABLE scrollkeep.stripe_reconcile_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY stripe_reconcile_runs_service ON scrollkeep.stripe_reconcile_runs FOR ALL TO service_role USING (true) WITH CHECK (true);
