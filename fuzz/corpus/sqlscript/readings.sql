-- Readings (Reading records v2) and the premium layers that hang off them: Passport, Echo and
-- Council. A reading is sealed when it is created: its seal_sha256 covers a canonical
-- serialization of its content, and a trigger refuses every later change except the
-- anonymization that forgetting performs (user, question and answer cleared together).

-- A spread is a JSON array of 1 to 78 cards, each {"card", "position", "reversed"} and nothing
-- else. IMMUTABLE so it can stand in a CHECK constraint.
CREATE FUNCTION scrollkeep.valid_spread(s jsonb) RETURNS boolean
  LANGUAGE sql IMMUTABLE SET search_path = ''
AS $$
  SELECT jsonb_typeof(s) = 'array'
     AND jsonb_array_length(s) BETWEEN 1 AND 78
     AND NOT EXISTS (
       SELECT FROM jsonb_array_elements(s) AS c
       WHERE jsonb_typeof(c) <> 'object'
          OR (c - ARRAY['card', 'position', 'reversed']) <> '{}'::jsonb
          OR jsonb_typeof(c -> 'card') IS DISTINCT FROM 'string'
          OR char_length(c ->> 'card') NOT BETWEEN 1 AND 64
          OR jsonb_typeof(c -> 'position') IS DISTINCT FROM 'string'
          OR char_length(c ->> 'position') NOT BETWEEN 1 AND 64
          OR jsonb_typeof(c -> 'reversed') IS DISTINCT FROM 'boolean')
$$;
GRANT EXECUTE ON FUNCTION scrollkeep.valid_spread(jsonb) TO authenticated, service_role;

CREATE TABLE public.readings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- RESTRICT: a reading outlives its person only anonymized; forgetting clears user_id first.
  user_id uuid REFERENCES auth.users (id) ON DELETE RESTRICT,
  question text CHECK (char_length(question) BETWEEN 1 AND 2000),
  answer text CHECK (char_length(answer) BETWEEN 1 AND 20000),
  spread jsonb NOT NULL CHECK (scrollkeep.valid_spread(spread)),
  public_title text NOT NULL CHECK (char_length(public_title) BETWEEN 1 AND 120),
  public_line text NOT NULL CHECK (char_length(public_line) BETWEEN 1 AND 280),
  product_code text NOT NULL DEFAULT 'reading' CHECK (product_code ~ '^[a-z0-9_]{1,40}$'),
  record_version smallint NOT NULL DEFAULT 2 CHECK (record_version = 2),
  created_at timestamptz NOT NULL DEFAULT now(),
  sealed_at timestamptz,
  seal_sha256 text CHECK (seal_sha256 ~ '^[0-9a-f]{64}$'),
  anonymized_at timestamptz,
  CHECK ((sealed_at IS NULL) = (seal_sha256 IS NULL)),
  CHECK (CASE WHEN anonymized_at IS NULL
              THEN user_id IS NOT NULL AND question IS NOT NULL AND answer IS NOT NULL
              ELSE user_id IS NULL AND question IS NULL AND answer IS NULL END)
);
CREATE INDEX readings_user ON public.readings (user_id, created_at DESC) WHERE user_id IS NOT NULL;

COMMENT ON TABLE public.readings IS 'sealed readings (Reading records v2)';
COMMENT ON COLUMN public.readings.id IS 'operational: reading id';
COMMENT ON COLUMN public.readings.user_id IS 'pii: the person who asked; null once anonymized';
COMMENT ON COLUMN public.readings.question IS 'private: the question as the person asked it';
COMMENT ON COLUMN public.readings.answer IS 'private: the oracle''s answer to that question';
COMMENT ON COLUMN public.readings.spread IS 'public: the cards drawn, their positions and orientation';
COMMENT ON COLUMN public.readings.public_title IS 'public: safe title for share cards';
COMMENT ON COLUMN public.readings.public_line IS 'public: safe one-line summary for share cards';
COMMENT ON COLUMN public.readings.product_code IS 'operational: the product the reading belongs to';
COMMENT ON COLUMN public.readings.record_version IS 'operational: Reading records version';
COMMENT ON COLUMN public.readings.created_at IS 'operational: when it was created';
COMMENT ON COLUMN public.readings.sealed_at IS 'operational: when it was sealed';
COMMENT ON COLUMN public.readings.seal_sha256 IS 'operational: sha256 of the canonical sealed content';
COMMENT ON COLUMN public.readings.anonymized_at IS 'operational: when the person was removed from it';

-- A sealed reading never changes; the one exception is anonymization: user_id, question and
-- answer cleared and anonymized_at set in one update that touches nothing else.
CREATE FUNCTION scrollkeep.guard_sealed_reading() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  IF OLD.sealed_at IS NULL THEN
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  END IF;
  IF TG_OP = 'DELETE' THEN
    IF OLD.anonymized_at IS NOT NULL THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'a sealed reading cannot be deleted' USING ERRCODE = 'SKS01';
  END IF;
  IF OLD.anonymized_at IS NULL
     AND NEW.anonymized_at IS NOT NULL
     AND NEW.user_id IS NULL AND NEW.question IS NULL AND NEW.answer IS NULL
     AND (NEW.id, NEW.spread, NEW.public_title, NEW.public_line, NEW.product_code,
          NEW.record_version, NEW.created_at, NEW.sealed_at, NEW.seal_sha256)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.spread, OLD.public_title, OLD.public_line, OLD.product_code,
          OLD.record_version, OLD.created_at, OLD.sealed_at, OLD.seal_sha256) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'a sealed reading cannot change' USING ERRCODE = 'SKS01';
END $$;
CREATE TRIGGER readings_sealed
  BEFORE UPDATE OR DELETE ON public.readings
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.guard_sealed_reading();

-- Passport: the person's collection. Stamps are written only while passport_sync stands.
CREATE TABLE public.passports (
  user_id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.passports IS 'a person''s collection of readings and stamps';
COMMENT ON COLUMN public.passports.user_id IS 'pii: the passport''s holder';
COMMENT ON COLUMN public.passports.created_at IS 'operational: when it was opened';
COMMENT ON COLUMN public.passports.updated_at IS 'operational: last stamp';
CREATE TRIGGER passports_touch BEFORE UPDATE ON public.passports
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();

CREATE TABLE public.passport_stamps (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES public.passports (user_id) ON DELETE CASCADE,
  reading_id uuid REFERENCES public.readings (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('reading', 'echo', 'council', 'artifact', 'purchase')),
  label text NOT NULL CHECK (char_length(label) BETWEEN 1 AND 120),
  stamped_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (user_id, kind, reading_id)
);
COMMENT ON TABLE public.passport_stamps IS 'stamps in a passport (written only with passport_sync consent)';
COMMENT ON COLUMN public.passport_stamps.id IS 'operational: stamp id';
COMMENT ON COLUMN public.passport_stamps.user_id IS 'pii: the holder';
COMMENT ON COLUMN public.passport_stamps.reading_id IS 'operational: the reading stamped';
COMMENT ON COLUMN public.passport_stamps.kind IS 'operational: what earned the stamp';
COMMENT ON COLUMN public.passport_stamps.label IS 'public: safe label (a public title)';
COMMENT ON COLUMN public.passport_stamps.stamped_at IS 'operational: when';

CREATE FUNCTION scrollkeep.stamp_requires_consent() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  PERFORM scrollkeep.require_consent(NEW.user_id, 'passport_sync');
  RETURN NEW;
END $$;
CREATE TRIGGER passport_stamps_consent BEFORE INSERT OR UPDATE ON public.passport_stamps
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.stamp_requires_consent();

-- Echo: a follow-up of a reading that returns later, delivered by echo_delivery_job.
CREATE TABLE public.echoes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  reading_id uuid NOT NULL REFERENCES public.readings (id) ON DELETE CASCADE,
  scheduled_for timestamptz NOT NULL,
  status text NOT NULL DEFAULT 'scheduled'
    CHECK (status IN ('scheduled', 'delivered', 'cancelled', 'failed')),
  body text CHECK (char_length(body) BETWEEN 1 AND 20000),
  job_id bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);
CREATE INDEX echoes_user ON public.echoes (user_id);
CREATE INDEX echoes_reading ON public.echoes (reading_id);
COMMENT ON TABLE public.echoes IS 'Echo: follow-ups of a reading delivered later';
COMMENT ON COLUMN public.echoes.id IS 'operational: echo id';
COMMENT ON COLUMN public.echoes.user_id IS 'pii: the person it returns to';
COMMENT ON COLUMN public.echoes.reading_id IS 'operational: the reading it follows';
COMMENT ON COLUMN public.echoes.scheduled_for IS 'operational: when it is due';
COMMENT ON COLUMN public.echoes.status IS 'operational: scheduled, delivered, cancelled or failed';
COMMENT ON COLUMN public.echoes.body IS 'private: the follow-up text';
COMMENT ON COLUMN public.echoes.job_id IS 'operational: its delivery job';
COMMENT ON COLUMN public.echoes.created_at IS 'operational: when it was asked for';
COMMENT ON COLUMN public.echoes.updated_at IS 'operational: last change';
COMMENT ON COLUMN public.echoes.delivered_at IS 'operational: when it was delivered';
CREATE TRIGGER echoes_touch BEFORE UPDATE ON public.echoes
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();

-- Council: several voices answer the reading's question.
CREATE TABLE public.council_sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  reading_id uuid NOT NULL REFERENCES public.readings (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'recorded' CHECK (status IN ('recorded', 'complete', 'failed')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX council_sessions_user ON public.council_sessions (user_id);
CREATE INDEX council_sessions_reading ON public.council_sessions (reading_id);
COMMENT ON TABLE public.council_sessions IS 'Council: one session of several voices on a reading';
COMMENT ON COLUMN public.council_sessions.id IS 'operational: session id';
COMMENT ON COLUMN public.council_sessions.user_id IS 'pii: the person who convened it';
COMMENT ON COLUMN public.council_sessions.reading_id IS 'operational: the reading discussed';
COMMENT ON COLUMN public.council_sessions.status IS 'operational: recorded, complete or failed';
COMMENT ON COLUMN public.council_sessions.created_at IS 'operational: when';
COMMENT ON COLUMN public.council_sessions.updated_at IS 'operational: last change';
CREATE TRIGGER council_sessions_touch BEFORE UPDATE ON public.council_sessions
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();

CREATE TABLE public.council_voices (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id uuid NOT NULL REFERENCES public.council_sessions (id) ON DELETE CASCADE,
  position smallint NOT NULL CHECK (position BETWEEN 1 AND 12),
  voice text NOT NULL CHECK (voice ~ '^[A-Za-z][A-Za-z0-9 ._-]{0,39}$'),
  body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 8000),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (session_id, position)
);
COMMENT ON TABLE public.council_voices IS 'the voices of a council session';
COMMENT ON COLUMN public.council_voices.id IS 'operational: voice id';
COMMENT ON COLUMN public.council_voices.session_id IS 'operational: its session';
COMMENT ON COLUMN public.council_voices.position IS 'operational: order of speaking';
COMMENT ON COLUMN public.council_voices.voice IS 'public: the voice''s name (a persona)';
COMMENT ON COLUMN public.council_voices.body IS 'private: what the voice said about the question';
COMMENT ON COLUMN public.council_voices.created_at IS 'operational: when';

-- Privileges and Row Level Security: a person reads their own; the server writes as
-- service_role.
ALTER TABLE public.readings ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.passports ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.passport_stamps ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.echoes ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.council_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.council_voices ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON public.readings, public.passports, public.passport_stamps, public.echoes,
  public.council_sessions, public.council_voices FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.readings, public.passports, public.passport_stamps, public.echoes,
  public.council_sessions, public.council_voices TO authenticated;
GRANT SELECT, INSERT, UPDATE ON public.readings TO service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.passports, public.passport_stamps, public.echoes,
  public.council_sessions, public.council_voices TO service_role;

CREATE POLICY readings_owner_read ON public.readings
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY passports_owner_read ON public.passports
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY passport_stamps_owner_read ON public.passport_stamps
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY echoes_owner_read ON public.echoes
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY council_sessions_owner_read ON public.council_sessions
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY council_voices_owner_read ON public.council_voices
  FOR SELECT TO authenticated USING (EXISTS (
    SELECT FROM public.council_sessions s
    WHERE s.id = session_id AND s.user_id = (SELECT auth.uid())));
