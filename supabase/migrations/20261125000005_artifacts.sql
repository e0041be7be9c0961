-- Oracle artifacts: pdf, private_pdf, share_card, gift and print_view are separate deliverable
-- entities of a reading. The private and the public never mix:
--   * public_fields may hold only allow-listed safe keys (a CHECK, not a convention);
--   * only a share card is public, and only it may carry a share_token;
--   * a share token exists only while the owner's public_share consent stands: it cannot be
--     set without it, and withdrawing the consent kills every token of that person at once.
-- A gift's recipient lives in gift_recipients alone, deletable on its own.

CREATE TABLE public.oracle_artifacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  reading_id uuid NOT NULL REFERENCES public.readings (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('pdf', 'private_pdf', 'share_card', 'gift', 'print_view')),
  visibility text NOT NULL CHECK (visibility IN ('private', 'public', 'recipient')),
  -- The request's idempotency key: asking twice for the same artifact returns the same row.
  request_key text NOT NULL CHECK (request_key ~ '^[A-Za-z0-9._:-]{1,128}$'),
  public_fields jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(public_fields) = 'object'
           AND (public_fields - ARRAY['public_title', 'public_line', 'spread', 'product_code',
                                      'sealed_at', 'seal_sha256']) = '{}'::jsonb),
  status text NOT NULL DEFAULT 'requested'
    CHECK (status IN ('requested', 'rendering', 'ready', 'delivered', 'failed', 'revoked')),
  storage_path text CHECK (storage_path ~ '^[0-9a-f]{2}/[0-9a-f]{64}\.(pdf|png|html)$'),
  content_type text CHECK (content_type IN ('application/pdf', 'image/png', 'text/html; charset=utf-8')),
  sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  bytes bigint CHECK (bytes >= 0),
  share_token text UNIQUE CHECK (share_token ~ '^[A-Za-z0-9_-]{43}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  ready_at timestamptz,
  UNIQUE (user_id, request_key),
  CHECK (visibility = CASE kind WHEN 'share_card' THEN 'public'
                                WHEN 'gift' THEN 'recipient'
                                ELSE 'private' END),
  CHECK (share_token IS NULL OR kind = 'share_card'),
  CHECK ((storage_path IS NULL) = (sha256 IS NULL) AND (sha256 IS NULL) = (bytes IS NULL)
         AND (sha256 IS NULL) = (content_type IS NULL)),
  CHECK (status NOT IN ('ready', 'delivered') OR kind = 'gift' OR storage_path IS NOT NULL)
);
CREATE INDEX oracle_artifacts_reading ON public.oracle_artifacts (reading_id);
CREATE INDEX oracle_artifacts_storage ON public.oracle_artifacts (storage_path) WHERE storage_path IS NOT NULL;

COMMENT ON TABLE public.oracle_artifacts IS 'artifacts of a reading, each a deliverable entity';
COMMENT ON COLUMN public.oracle_artifacts.id IS 'operational: artifact id';
COMMENT ON COLUMN public.oracle_artifacts.user_id IS 'pii: the owner';
COMMENT ON COLUMN public.oracle_artifacts.reading_id IS 'operational: the reading it renders';
COMMENT ON COLUMN public.oracle_artifacts.kind IS 'operational: pdf, private_pdf, share_card, gift or print_view';
COMMENT ON COLUMN public.oracle_artifacts.visibility IS 'operational: private, public or recipient (follows kind)';
COMMENT ON COLUMN public.oracle_artifacts.request_key IS 'operational: idempotency key of the request';
COMMENT ON COLUMN public.oracle_artifacts.public_fields IS 'public: allow-listed safe fields only';
COMMENT ON COLUMN public.oracle_artifacts.status IS 'operational: requested, rendering, ready, delivered, failed or revoked';
COMMENT ON COLUMN public.oracle_artifacts.storage_path IS 'operational: content-addressed path in the artifact store';
COMMENT ON COLUMN public.oracle_artifacts.content_type IS 'operational: media type of the file';
COMMENT ON COLUMN public.oracle_artifacts.sha256 IS 'operational: sha256 of the file';
COMMENT ON COLUMN public.oracle_artifacts.bytes IS 'operational: size of the file';
COMMENT ON COLUMN public.oracle_artifacts.share_token IS 'operational: unguessable public link token (share cards only)';
COMMENT ON COLUMN public.oracle_artifacts.created_at IS 'operational: when it was asked for';
COMMENT ON COLUMN public.oracle_artifacts.updated_at IS 'operational: last change';
COMMENT ON COLUMN public.oracle_artifacts.ready_at IS 'operational: when the file was ready';
CREATE TRIGGER oracle_artifacts_touch BEFORE UPDATE ON public.oracle_artifacts
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();

CREATE FUNCTION scrollkeep.share_token_requires_consent() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  IF NEW.share_token IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.share_token IS DISTINCT FROM OLD.share_token) THEN
    PERFORM scrollkeep.require_consent(NEW.user_id, 'public_share');
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER oracle_artifacts_share_consent BEFORE INSERT OR UPDATE ON public.oracle_artifacts
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.share_token_requires_consent();

-- Withdrawing public_share kills the person's share tokens in the same transaction.
-- SECURITY DEFINER: the invariant holds whoever appends to the ledger.
CREATE FUNCTION scrollkeep.revoke_share_tokens_on_withdrawal() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  IF NEW.purpose = 'public_share' AND NEW.action = 'withdrawn' THEN
    UPDATE public.oracle_artifacts
       SET share_token = NULL, status = 'revoked'
     WHERE user_id = NEW.user_id AND share_token IS NOT NULL;
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION scrollkeep.revoke_share_tokens_on_withdrawal() FROM PUBLIC;
CREATE TRIGGER consent_events_revoke_share_tokens AFTER INSERT ON public.consent_events
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.revoke_share_tokens_on_withdrawal();

CREATE TABLE public.gift_recipients (
  artifact_id uuid PRIMARY KEY REFERENCES public.oracle_artifacts (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  email text NOT NULL CHECK (char_length(email) <= 254 AND email ~ '^[^@\s]+@[^@\s]+$'),
  name text CHECK (char_length(name) BETWEEN 1 AND 120),
  message text CHECK (char_length(message) BETWEEN 1 AND 1000),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gift_recipients_user ON public.gift_recipients (user_id);
COMMENT ON TABLE public.gift_recipients IS 'a gift''s third-party recipient, isolated and deletable';
COMMENT ON COLUMN public.gift_recipients.artifact_id IS 'operational: the gift artifact';
COMMENT ON COLUMN public.gift_recipients.user_id IS 'pii: the buyer who sends the gift';
COMMENT ON COLUMN public.gift_recipients.email IS 'pii: the recipient''s e-mail address';
COMMENT ON COLUMN public.gift_recipients.name IS 'pii: the recipient''s name';
COMMENT ON COLUMN public.gift_recipients.message IS 'private: the buyer''s message to the recipient';
COMMENT ON COLUMN public.gift_recipients.created_at IS 'operational: when';

CREATE FUNCTION scrollkeep.gift_requires_consent() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  PERFORM scrollkeep.require_consent(NEW.user_id, 'gift_delivery');
  RETURN NEW;
END $$;
CREATE TRIGGER gift_recipients_consent BEFORE INSERT ON public.gift_recipients
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.gift_requires_consent();

ALTER TABLE public.oracle_artifacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.gift_recipients ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.oracle_artifacts, public.gift_recipients FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.oracle_artifacts TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.oracle_artifacts, public.gift_recipients TO service_role;
CREATE POLICY oracle_artifacts_owner_read ON public.oracle_artifacts
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
-- The recipient's address is the server's to use at send time, not the buyer's to read back.
CREATE POLICY gift_recipients_service_only ON public.gift_recipients
  FOR ALL TO service_role USING (true) WITH CHECK (true);
