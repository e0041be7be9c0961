-- The consent ledger: one append-only row per granted or withdrawn purpose, holding what a
-- consent record needs to stand up later (GDPR art. 7; ISO/IEC TS 27560 and the Kantara
-- consent receipt): the notice the person saw (version, language, sha256 of its text), the
-- purpose, jurisdiction, method, who caused the event, its source, time and validity.
-- The current state is the latest event per purpose (view consent_current); never consented
-- means not granted. scrollkeep.consent_state() is the one function every gate calls.

CREATE TABLE public.consent_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  receipt_id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  -- RESTRICT: the ledger is erased only by scrollkeep.erase_consent_ledger(), the forgetting
  -- path, before the person's account can go.
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE RESTRICT,
  purpose text NOT NULL CHECK (purpose IN ('email_delivery', 'passport_sync', 'public_share',
                                           'gift_delivery', 'ai_processing', 'marketing')),
  action text NOT NULL CHECK (action IN ('granted', 'withdrawn')),
  notice_version text NOT NULL CHECK (notice_version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  notice_sha256 text NOT NULL CHECK (notice_sha256 ~ '^[0-9a-f]{64}$'),
  language text NOT NULL CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$'),
  jurisdiction text NOT NULL CHECK (jurisdiction ~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$'),
  method text NOT NULL CHECK (method IN ('web_form', 'in_app', 'email_link', 'api', 'support', 'import')),
  actor text NOT NULL CHECK (actor IN ('person', 'support', 'import', 'system')),
  source text NOT NULL CHECK (source ~ '^[a-z0-9][a-z0-9._:/-]{0,79}$'),
  valid_from timestamptz NOT NULL DEFAULT now(),
  valid_until timestamptz,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CHECK (valid_until IS NULL OR valid_until > valid_from),
  CHECK (action = 'granted' OR valid_until IS NULL)
);
CREATE INDEX consent_events_latest ON public.consent_events (user_id, purpose, id DESC);

COMMENT ON TABLE public.consent_events IS 'the consent ledger (append-only)';
COMMENT ON COLUMN public.consent_events.id IS 'operational: ledger order; the latest event per purpose wins';
COMMENT ON COLUMN public.consent_events.receipt_id IS 'operational: the consent receipt''s id';
COMMENT ON COLUMN public.consent_events.user_id IS 'pii: the person who consented or withdrew';
COMMENT ON COLUMN public.consent_events.purpose IS 'operational: the purpose (one of six)';
COMMENT ON COLUMN public.consent_events.action IS 'operational: granted or withdrawn';
COMMENT ON COLUMN public.consent_events.notice_version IS 'operational: version of the notice shown';
COMMENT ON COLUMN public.consent_events.notice_sha256 IS 'operational: sha256 of the notice text shown';
COMMENT ON COLUMN public.consent_events.language IS 'operational: language of the notice (BCP 47)';
COMMENT ON COLUMN public.consent_events.jurisdiction IS 'operational: ISO 3166 code of the governing law';
COMMENT ON COLUMN public.consent_events.method IS 'operational: how consent was collected';
COMMENT ON COLUMN public.consent_events.actor IS 'operational: who caused the event';
COMMENT ON COLUMN public.consent_events.source IS 'operational: where the event came from (page or system)';
COMMENT ON COLUMN public.consent_events.valid_from IS 'operational: when the event takes effect';
COMMENT ON COLUMN public.consent_events.valid_until IS 'operational: when a grant lapses, if it does';
COMMENT ON COLUMN public.consent_events.recorded_at IS 'operational: when the event was recorded';

-- Only the forgetting path may delete ledger rows, and only the person's own: it registers
-- itself here for the length of its transaction. Nobody but the owner can write this table.
CREATE TABLE scrollkeep.ledger_erasures (
  txid bigint NOT NULL,
  user_id uuid NOT NULL,
  PRIMARY KEY (txid, user_id)
);
REVOKE ALL ON scrollkeep.ledger_erasures FROM PUBLIC;
COMMENT ON TABLE scrollkeep.ledger_erasures IS 'marks the forgetting transaction allowed to erase a ledger';
COMMENT ON COLUMN scrollkeep.ledger_erasures.txid IS 'operational: the erasing transaction';
COMMENT ON COLUMN scrollkeep.ledger_erasures.user_id IS 'pii: whose ledger it erases (row lives one transaction)';

-- SECURITY DEFINER so that it can read ledger_erasures whoever runs the DELETE.
CREATE FUNCTION scrollkeep.guard_consent_ledger() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
  IF TG_OP = 'DELETE' AND EXISTS (
       SELECT FROM scrollkeep.ledger_erasures
       WHERE txid = txid_current() AND user_id = OLD.user_id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'consent_events is append-only'
    USING ERRCODE = 'SKA01', DETAIL = TG_OP;
END $$;
REVOKE ALL ON FUNCTION scrollkeep.guard_consent_ledger() FROM PUBLIC;

CREATE TRIGGER consent_events_append_only
  BEFORE UPDATE OR DELETE ON public.consent_events
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.guard_consent_ledger();
CREATE TRIGGER consent_events_no_truncate
  BEFORE TRUNCATE ON public.consent_events
  FOR EACH STATEMENT EXECUTE FUNCTION scrollkeep.refuse_change();

-- The forgetting path's one way into the ledger: erase every event of one person.
-- Returns the number of rows erased.
CREATE FUNCTION scrollkeep.erase_consent_ledger(p_user uuid) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  erased bigint;
BEGIN
  INSERT INTO scrollkeep.ledger_erasures (txid, user_id) VALUES (txid_current(), p_user)
  ON CONFLICT DO NOTHING;
  DELETE FROM public.consent_events WHERE user_id = p_user;
  GET DIAGNOSTICS erased = ROW_COUNT;
  DELETE FROM scrollkeep.ledger_erasures WHERE txid = txid_current() AND user_id = p_user;
  RETURN erased;
END $$;
REVOKE ALL ON FUNCTION scrollkeep.erase_consent_ledger(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.erase_consent_ledger(uuid) TO service_role;

-- The current state per person and purpose. security_invoker: RLS of the ledger applies to
-- whoever reads the view, so a person sees only their own.
CREATE VIEW public.consent_current WITH (security_invoker = true) AS
SELECT DISTINCT ON (e.user_id, e.purpose)
       e.user_id,
       e.purpose,
       CASE WHEN e.action = 'granted' AND (e.valid_until IS NULL OR e.valid_until > now())
            THEN 'granted' ELSE 'withdrawn' END AS state,
       e.id AS event_id,
       e.recorded_at,
       e.valid_until
FROM public.consent_events e
WHERE e.valid_from <= now()
ORDER BY e.user_id, e.purpose, e.id DESC;

-- 'granted', 'withdrawn' or 'never' for one person and purpose: the one decision every
-- consent gate (API, worker, lab, triggers) takes. SECURITY INVOKER: a person asking about
-- someone else sees 'never', through RLS.
CREATE FUNCTION scrollkeep.consent_state(p_user uuid, p_purpose text) RETURNS text
  LANGUAGE sql STABLE SET search_path = ''
AS $$
  SELECT coalesce((SELECT c.state FROM public.consent_current c
                   WHERE c.user_id = p_user AND c.purpose = p_purpose), 'never')
$$;

-- Raise SKC01 (DETAIL = the purpose) unless the purpose is granted now.
CREATE FUNCTION scrollkeep.require_consent(p_user uuid, p_purpose text) RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = ''
AS $$
BEGIN
  IF scrollkeep.consent_state(p_user, p_purpose) <> 'granted' THEN
    RAISE EXCEPTION 'consent % is not granted', p_purpose
      USING ERRCODE = 'SKC01', DETAIL = p_purpose;
  END IF;
END $$;

REVOKE ALL ON FUNCTION scrollkeep.consent_state(uuid, text), scrollkeep.require_consent(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scrollkeep.consent_state(uuid, text), scrollkeep.require_consent(uuid, text)
  TO authenticated, service_role;

-- Privileges and Row Level Security.
ALTER TABLE public.consent_events ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.consent_events, public.consent_current FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.consent_events, public.consent_current TO authenticated;
GRANT SELECT, INSERT ON public.consent_events TO service_role;
GRANT SELECT ON public.consent_current TO service_role;
CREATE POLICY consent_events_owner_read ON public.consent_events
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
