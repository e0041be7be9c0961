-- The operator's trail: append-only and hash-chained. Each row's row_hash covers its content
-- and the previous row's hash. A trigger that read "the last row" without a lock would fork
-- the chain under concurrent inserts, so appends serialize on a transaction-level advisory
-- lock and take the next chain_seq (gapless) under it. Rows carry ids and reasons, never
-- questions, answers, e-mail addresses or names; the CHECKs refuse what looks like an address.

CREATE TABLE public.admin_audit_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  chain_seq bigint NOT NULL UNIQUE CHECK (chain_seq >= 1),
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL CHECK (actor ~ '^[a-z0-9][a-z0-9._:-]{0,79}$'),
  actor_role text NOT NULL CHECK (actor_role IN ('operator', 'service', 'system', 'person')),
  action text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' AND char_length(action) <= 80),
  subject_type text CHECK (subject_type ~ '^[a-z_]{1,40}$'),
  subject_id text CHECK (subject_id ~ '^[A-Za-z0-9_.:-]{1,80}$'),
  reason text CHECK (char_length(reason) BETWEEN 1 AND 500 AND reason !~ '[^[:space:]@]+@[^[:space:]@]+'),
  details jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(details) = 'object' AND octet_length(details::text) <= 4096
           AND details::text !~ '[^[:space:]@"]+@[^[:space:]@"]+'),
  prev_hash text CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  row_hash text NOT NULL CHECK (row_hash ~ '^[0-9a-f]{64}$'),
  CHECK ((chain_seq = 1) = (prev_hash IS NULL))
);
CREATE INDEX admin_audit_events_subject ON public.admin_audit_events (subject_type, subject_id);
CREATE INDEX admin_audit_events_action ON public.admin_audit_events (action, occurred_at);
COMMENT ON TABLE public.admin_audit_events IS 'the operator''s audit trail (append-only, hash-chained)';
COMMENT ON COLUMN public.admin_audit_events.id IS 'operational: row id';
COMMENT ON COLUMN public.admin_audit_events.chain_seq IS 'operational: position in the hash chain (gapless)';
COMMENT ON COLUMN public.admin_audit_events.occurred_at IS 'operational: when';
COMMENT ON COLUMN public.admin_audit_events.actor IS 'operational: operator handle, service or system';
COMMENT ON COLUMN public.admin_audit_events.actor_role IS 'operational: operator, service, system or person';
COMMENT ON COLUMN public.admin_audit_events.action IS 'operational: what was done (noun.verb)';
COMMENT ON COLUMN public.admin_audit_events.subject_type IS 'operational: kind of object acted on';
COMMENT ON COLUMN public.admin_audit_events.subject_id IS 'operational: id of the object acted on';
COMMENT ON COLUMN public.admin_audit_events.reason IS 'operational: the operator''s reason';
COMMENT ON COLUMN public.admin_audit_events.details IS 'operational: redacted details (ids and counts)';
COMMENT ON COLUMN public.admin_audit_events.prev_hash IS 'operational: previous row''s hash';
COMMENT ON COLUMN public.admin_audit_events.row_hash IS 'operational: sha256 over prev_hash and this row';

-- The text a row's hash covers: the previous hash and the row's content as jsonb text
-- (PostgreSQL's jsonb output is deterministic: keys sorted, one spacing).
CREATE FUNCTION scrollkeep.audit_row_hash(prev_hash text, chain_seq bigint, occurred_at timestamptz,
                                          actor text, actor_role text, action text,
                                          subject_type text, subject_id text, reason text,
                                          details jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$
  SELECT encode(sha256(convert_to(
    coalesce(prev_hash, '') || E'\n' ||
    jsonb_build_object(
      'seq', chain_seq,
      'at', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'actor', actor, 'actor_role', actor_role, 'action', action,
      'subject_type', subject_type, 'subject_id', subject_id,
      'reason', reason, 'details', details)::text,
    'UTF8')), 'hex')
$$;
GRANT EXECUTE ON FUNCTION scrollkeep.audit_row_hash(text, bigint, timestamptz, text, text, text, text, text, text, jsonb)
  TO service_role;

-- Append a row to the chain. The advisory lock is held until the transaction ends, so the
-- next writer reads this row as "the last one" only after it is committed (or rolled back).
CREATE FUNCTION scrollkeep.audit_chain_append() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  last record;
BEGIN
  PERFORM pg_advisory_xact_lock(7379076523651072); -- 'audit' chain lock
  SELECT e.chain_seq, e.row_hash INTO last
  FROM public.admin_audit_events e ORDER BY e.chain_seq DESC LIMIT 1;
  NEW.chain_seq := coalesce(last.chain_seq, 0) + 1;
  NEW.prev_hash := last.row_hash;
  NEW.occurred_at := clock_timestamp();
  NEW.row_hash := scrollkeep.audit_row_hash(NEW.prev_hash, NEW.chain_seq, NEW.occurred_at,
    NEW.actor, NEW.actor_role, NEW.action, NEW.subject_type, NEW.subject_id, NEW.reason, NEW.details);
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION scrollkeep.audit_chain_append() FROM PUBLIC;
CREATE TRIGGER admin_audit_events_chain BEFORE INSERT ON public.admin_audit_events
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.audit_chain_append();
CREATE TRIGGER admin_audit_events_append_only BEFORE UPDATE OR DELETE ON public.admin_audit_events
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.refuse_change();
CREATE TRIGGER admin_audit_events_no_truncate BEFORE TRUNCATE ON public.admin_audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION scrollkeep.refuse_change();

ALTER TABLE public.admin_audit_events ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.admin_audit_events FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT ON public.admin_audit_events TO service_role;
CREATE POLICY admin_audit_events_service_only ON public.admin_audit_events
  FOR ALL TO service_role USING (true) WITH CHECK (true);
