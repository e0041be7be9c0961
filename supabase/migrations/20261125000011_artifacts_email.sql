-- Artifacts rendered and delivered, and e-mail sent:
--   * a gift gets its own unguessable gift_token (the recipient's link), apart from the
--     public share token: a gift is not public, and needs gift_delivery, not public_share;
--   * artifact_ready_email_job tells the owner that a file is ready (a kind of its own: the
--     render jobs are idempotent, an e-mail is not);
--   * scrollkeep.recipient_address() looks the address up at send time, so no job, log or
--     email_messages row ever holds a copy;
--   * scrollkeep.artifact_paths() is what the artifact store's sweeper keeps.

ALTER TABLE public.oracle_artifacts
  ADD COLUMN gift_token text UNIQUE CHECK (gift_token ~ '^[A-Za-z0-9_-]{43}$'),
  ADD CONSTRAINT oracle_artifacts_gift_token_kind CHECK (gift_token IS NULL OR kind = 'gift');
COMMENT ON COLUMN public.oracle_artifacts.gift_token IS 'operational: unguessable link token of a gift, for its recipient';

INSERT INTO scrollkeep.job_kinds (kind, side_effect, max_attempts, description)
VALUES ('artifact_ready_email_job', 'external', 8, 'tell the owner an artifact is ready');

-- The address of a recipient, read when the e-mail is sent: a person's (auth.users) or a gift
-- recipient's (gift_recipients, by the gift artifact's id). NULL when there is none (the
-- person was forgotten, the gift deleted). SECURITY DEFINER: service_role does not read
-- auth.users itself.
CREATE FUNCTION scrollkeep.recipient_address(recipient_kind text, recipient_ref uuid) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
AS $$
  SELECT CASE recipient_kind
    WHEN 'person' THEN (SELECT u.email::text FROM auth.users u WHERE u.id = recipient_ref)
    WHEN 'gift_recipient' THEN (SELECT g.email FROM public.gift_recipients g WHERE g.artifact_id = recipient_ref)
  END
$$;
REVOKE ALL ON FUNCTION scrollkeep.recipient_address(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.recipient_address(text, uuid) TO service_role;

-- Every file the artifact store must keep: the sweeper deletes any other file it finds once it
-- is older than its grace period (a file written just before a crash, before its row).
CREATE FUNCTION scrollkeep.artifact_paths() RETURNS SETOF text
  LANGUAGE sql STABLE SET search_path = ''
AS $$
  SELECT storage_path FROM public.oracle_artifacts WHERE storage_path IS NOT NULL
  UNION
  SELECT storage_path FROM public.data_exports WHERE storage_path IS NOT NULL
$$;
GRANT EXECUTE ON FUNCTION scrollkeep.artifact_paths() TO service_role;
