-- Checking the operator's trail. One pass over the chain in chain_seq order recomputes every
-- row's hash with the definition the chain trigger used, and compares each row's prev_hash
-- with the hash of the row before it: the first row that does not hold is named, with what is
-- wrong with it (a gap in chain_seq, a broken link, or content that no longer matches its
-- hash). The head (last chain_seq and its hash) is what an operator keeps outside the
-- database: a rewrite of the chain's tail is only visible against that copy.

CREATE FUNCTION scrollkeep.audit_chain_check()
  RETURNS TABLE (total bigint, head_seq bigint, head_hash text,
                 broken_seq bigint, broken_id bigint, problem text)
  LANGUAGE sql STABLE SET search_path = ''
AS $$
  WITH walk AS (
    SELECT e.id, e.chain_seq, e.prev_hash, e.row_hash,
           row_number() OVER w AS expected_seq,
           lag(e.row_hash) OVER w AS expected_prev,
           scrollkeep.audit_row_hash(e.prev_hash, e.chain_seq, e.occurred_at, e.actor, e.actor_role,
                                     e.action, e.subject_type, e.subject_id, e.reason,
                                     e.details) AS expected_hash
      FROM public.admin_audit_events e
    WINDOW w AS (ORDER BY e.chain_seq)
  ), first_break AS (
    SELECT w.chain_seq, w.id,
           CASE WHEN w.chain_seq <> w.expected_seq THEN 'gap'
                WHEN w.prev_hash IS DISTINCT FROM w.expected_prev THEN 'link'
                ELSE 'hash' END AS problem
      FROM walk w
     WHERE w.chain_seq <> w.expected_seq OR w.prev_hash IS DISTINCT FROM w.expected_prev
        OR w.row_hash <> w.expected_hash
     ORDER BY w.chain_seq
     LIMIT 1
  ), head AS (
    SELECT w.chain_seq, w.row_hash FROM walk w ORDER BY w.chain_seq DESC LIMIT 1
  )
  SELECT (SELECT count(*) FROM walk), h.chain_seq, h.row_hash, f.chain_seq, f.id, f.problem
    FROM (SELECT) AS one
    LEFT JOIN head h ON true
    LEFT JOIN first_break f ON true
$$;
REVOKE ALL ON FUNCTION scrollkeep.audit_chain_check() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.audit_chain_check() TO service_role;
