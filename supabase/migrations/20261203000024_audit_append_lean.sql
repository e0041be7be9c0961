-- The chain's append, per row of the trail, without the two calls it made around its own
-- work: `PERFORM set_config(…)` ran a whole SELECT (an executor started and ended for every
-- row), and the hash went through scrollkeep.audit_row_hash, whose SET search_path made each
-- call save and restore the settings. The head is kept by an assignment, and the hash is
-- that function's expression written out here (same body, so the same hashes:
-- scrollkeep.audit_chain_check recomputes every row with scrollkeep.audit_row_hash, and the
-- tests verify the chain after the trigger wrote it). Measured with callgrind on 2,560 rows
-- moved from the outbox: see BENCHMARKS.md.
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
  -- scrollkeep.audit_row_hash(NEW.prev_hash, NEW.chain_seq, NEW.occurred_at, NEW.actor, …):
  NEW.row_hash := encode(sha256(convert_to(
    coalesce(NEW.prev_hash, '') || E'\n' ||
    jsonb_build_object(
      'seq', NEW.chain_seq,
      'at', to_char(NEW.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'actor', NEW.actor, 'actor_role', NEW.actor_role, 'action', NEW.action,
      'subject_type', NEW.subject_type, 'subject_id', NEW.subject_id,
      'reason', NEW.reason, 'details', NEW.details)::text,
    'UTF8')), 'hex');
  head := set_config('scrollkeep.audit_chain_head', NEW.chain_seq || ':' || NEW.row_hash, true);
  RETURN NEW;
END $$;
