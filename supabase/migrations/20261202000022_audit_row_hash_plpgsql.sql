-- The chain's hash as a plpgsql function. As an SQL function with SET search_path it cannot
-- be inlined, so every row appended to the chain started an executor for its one-line query;
-- plpgsql evaluates the same expression from a plan cached for the session. Moving the
-- audit outbox into the chain went from 53–55 to 48–50 µs a purchase (two rows each; 9,600
-- purchases, three interleaved runs of each, one backend). The body, and so every hash, is
-- unchanged: audit_verify recomputes the old rows with it.
CREATE OR REPLACE FUNCTION scrollkeep.audit_row_hash(prev_hash text, chain_seq bigint, occurred_at timestamptz,
                                                     actor text, actor_role text, action text,
                                                     subject_type text, subject_id text, reason text,
                                                     details jsonb) RETURNS text
  LANGUAGE plpgsql IMMUTABLE SET search_path = ''
AS $$
BEGIN
  RETURN encode(sha256(convert_to(
    coalesce(prev_hash, '') || E'\n' ||
    jsonb_build_object(
      'seq', chain_seq,
      'at', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'actor', actor, 'actor_role', actor_role, 'action', action,
      'subject_type', subject_type, 'subject_id', subject_id,
      'reason', reason, 'details', details)::text,
    'UTF8')), 'hex');
END $$;
