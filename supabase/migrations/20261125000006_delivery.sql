-- Delivery: every e-mail, render, gift, receipt, Echo, Stripe event and privacy workflow runs
-- as a tracked job in delivery_jobs, with one delivery_attempts row per attempt. Jobs are
-- enqueued in the same transaction as the business row that needs them, from C or from SQL
-- through scrollkeep.enqueue_job(). Payloads carry ids, never personal data (a CHECK refuses
-- the obvious keys). Claiming uses the partial index delivery_jobs_due.

-- What each kind of job is. side_effect says what an expired lease means:
--   idempotent  running it again is harmless: back to queued
--   external    it may already have reached the outside world (an e-mail handed to SMTP):
--               to 'unknown', for reconciliation or an operator, never a blind resend
CREATE TABLE scrollkeep.job_kinds (
  kind text PRIMARY KEY CHECK (kind ~ '^[a-z][a-z0-9_]{2,62}$'),
  side_effect text NOT NULL CHECK (side_effect IN ('idempotent', 'external')),
  max_attempts integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
  lease_seconds integer NOT NULL DEFAULT 30 CHECK (lease_seconds BETWEEN 5 AND 3600),
  description text NOT NULL
);
REVOKE ALL ON scrollkeep.job_kinds FROM PUBLIC;
GRANT SELECT ON scrollkeep.job_kinds TO service_role;
COMMENT ON TABLE scrollkeep.job_kinds IS 'the kinds of delivery job and their retry rules';
COMMENT ON COLUMN scrollkeep.job_kinds.kind IS 'operational: job kind';
COMMENT ON COLUMN scrollkeep.job_kinds.side_effect IS 'operational: idempotent or external';
COMMENT ON COLUMN scrollkeep.job_kinds.max_attempts IS 'operational: attempts before a job is dead';
COMMENT ON COLUMN scrollkeep.job_kinds.lease_seconds IS 'operational: length of a lease';
COMMENT ON COLUMN scrollkeep.job_kinds.description IS 'operational: what the job does';

INSERT INTO scrollkeep.job_kinds (kind, side_effect, max_attempts, description) VALUES
  ('pdf_render_job',         'idempotent',  5, 'render the public PDF of a reading'),
  ('private_pdf_render_job', 'idempotent',  5, 'render the private PDF of a reading for its owner'),
  ('share_card_render_job',  'idempotent',  5, 'render the 1200x630 PNG share card'),
  ('gift_delivery_job',      'external',    5, 'send a gift link to its recipient'),
  ('receipt_email_job',      'external',    8, 'send the purchase receipt'),
  ('echo_delivery_job',      'external',    8, 'deliver an Echo follow-up'),
  ('recovery_email_job',     'external',    5, 'send an access recovery e-mail'),
  ('stripe_event_job',       'idempotent', 25, 'process a stored Stripe event'),
  ('privacy_export_job',     'idempotent',  5, 'write a data export archive'),
  ('privacy_deletion_job',   'idempotent', 10, 'run a deletion request to its end');

-- A short reference a person can quote to support, derived from the job id by a 40-bit
-- Feistel permutation (so it is unique without a lookup) and spelled in Crockford base32.
CREATE FUNCTION scrollkeep.support_ref(p_id bigint) RETURNS text
  LANGUAGE plpgsql IMMUTABLE STRICT SET search_path = ''
AS $$
DECLARE
  l bigint := (p_id >> 20) & 1048575;
  r bigint := p_id & 1048575;
  t bigint;
  x bigint;
  alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  code text := '';
BEGIN
  IF p_id < 0 OR p_id >= 1099511627776 THEN
    RAISE EXCEPTION 'job id % is outside the support reference range', p_id;
  END IF;
  FOR i IN 1..4 LOOP
    t := r;
    r := l # ((((r * 1103515245 + 12345 + i) >> 7) # (r << 3)) & 1048575);
    l := t;
  END LOOP;
  x := (l << 20) | r;
  FOR i IN 1..8 LOOP
    code := substr(alphabet, (x & 31)::int + 1, 1) || code;
    x := x >> 5;
  END LOOP;
  RETURN 'SK-' || substr(code, 1, 4) || '-' || substr(code, 5, 4);
END $$;
GRANT EXECUTE ON FUNCTION scrollkeep.support_ref(bigint) TO service_role;

CREATE TABLE public.delivery_jobs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL REFERENCES scrollkeep.job_kinds (kind),
  status text NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'succeeded', 'dead', 'unknown', 'cancelled', 'expired')),
  priority smallint NOT NULL DEFAULT 0 CHECK (priority BETWEEN -100 AND 100),
  payload jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(payload) = 'object'
           AND octet_length(payload::text) <= 8192
           AND NOT payload ?| ARRAY['email', 'name', 'question', 'answer', 'message',
                                   'address', 'phone', 'body', 'subject']),
  -- SET NULL: the delivery history stays, unlinked, after the person is forgotten.
  user_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
  next_run_at timestamptz NOT NULL DEFAULT now(),
  deliver_by timestamptz,
  lease_owner text CHECK (char_length(lease_owner) <= 128),
  lease_token uuid,
  lease_expires_at timestamptz,
  idempotency_key text UNIQUE CHECK (char_length(idempotency_key) BETWEEN 1 AND 200),
  support_ref text NOT NULL UNIQUE CHECK (support_ref ~ '^SK-[0-9A-Z]{4}-[0-9A-Z]{4}$'),
  last_error text CHECK (char_length(last_error) <= 500),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  CHECK (attempts <= max_attempts),
  CHECK ((status = 'running') = (lease_token IS NOT NULL)),
  CHECK ((lease_token IS NULL) = (lease_expires_at IS NULL)
         AND (lease_token IS NULL) = (lease_owner IS NULL)),
  CHECK ((finished_at IS NOT NULL) = (status IN ('succeeded', 'dead', 'cancelled', 'expired')))
) WITH (fillfactor = 70,
        autovacuum_vacuum_scale_factor = 0.02,
        autovacuum_analyze_scale_factor = 0.02,
        autovacuum_vacuum_cost_delay = 0);
-- The claim's index: only due-able rows, in claim order.
CREATE INDEX delivery_jobs_due ON public.delivery_jobs (priority DESC, next_run_at, id)
  WHERE status = 'queued';
CREATE INDEX delivery_jobs_leases ON public.delivery_jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX delivery_jobs_user ON public.delivery_jobs (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX delivery_jobs_kind_status ON public.delivery_jobs (kind, status);

COMMENT ON TABLE public.delivery_jobs IS 'the delivery queue';
COMMENT ON COLUMN public.delivery_jobs.id IS 'operational: job id';
COMMENT ON COLUMN public.delivery_jobs.kind IS 'operational: job kind';
COMMENT ON COLUMN public.delivery_jobs.status IS 'operational: queued, running, succeeded, dead, unknown, cancelled or expired';
COMMENT ON COLUMN public.delivery_jobs.priority IS 'operational: higher runs first';
COMMENT ON COLUMN public.delivery_jobs.payload IS 'operational: ids the handler needs, never personal data';
COMMENT ON COLUMN public.delivery_jobs.user_id IS 'pii: the person the delivery is for';
COMMENT ON COLUMN public.delivery_jobs.attempts IS 'operational: attempts spent';
COMMENT ON COLUMN public.delivery_jobs.max_attempts IS 'operational: attempts before dead';
COMMENT ON COLUMN public.delivery_jobs.next_run_at IS 'operational: not before';
COMMENT ON COLUMN public.delivery_jobs.deliver_by IS 'operational: deadline after which it must not run';
COMMENT ON COLUMN public.delivery_jobs.lease_owner IS 'operational: worker holding the lease';
COMMENT ON COLUMN public.delivery_jobs.lease_token IS 'operational: token guarding every change while leased';
COMMENT ON COLUMN public.delivery_jobs.lease_expires_at IS 'operational: lease expiry';
COMMENT ON COLUMN public.delivery_jobs.idempotency_key IS 'operational: one job per delivery';
COMMENT ON COLUMN public.delivery_jobs.support_ref IS 'operational: reference a person can quote';
COMMENT ON COLUMN public.delivery_jobs.last_error IS 'operational: last error, redacted';
COMMENT ON COLUMN public.delivery_jobs.created_at IS 'operational: when it was enqueued';
COMMENT ON COLUMN public.delivery_jobs.updated_at IS 'operational: last change';
COMMENT ON COLUMN public.delivery_jobs.finished_at IS 'operational: when it reached a final state';

CREATE FUNCTION scrollkeep.delivery_job_defaults() RETURNS trigger
  LANGUAGE plpgsql SET search_path = ''
AS $$
BEGIN
  NEW.support_ref := scrollkeep.support_ref(NEW.id);
  RETURN NEW;
END $$;
CREATE TRIGGER delivery_jobs_defaults BEFORE INSERT ON public.delivery_jobs
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.delivery_job_defaults();
CREATE TRIGGER delivery_jobs_touch BEFORE UPDATE ON public.delivery_jobs
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();

ALTER TABLE public.echoes
  ADD CONSTRAINT echoes_job_fk FOREIGN KEY (job_id) REFERENCES public.delivery_jobs (id) ON DELETE SET NULL;

CREATE TABLE public.delivery_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id bigint NOT NULL REFERENCES public.delivery_jobs (id) ON DELETE CASCADE,
  attempt integer NOT NULL CHECK (attempt >= 1),
  worker text NOT NULL CHECK (char_length(worker) BETWEEN 1 AND 128),
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  outcome text CHECK (outcome IN ('succeeded', 'transient', 'permanent', 'provider_down',
                                  'lease_expired', 'cancelled', 'expired')),
  provider_ref text CHECK (char_length(provider_ref) <= 200),
  error text CHECK (char_length(error) <= 500),
  UNIQUE (job_id, attempt),
  CHECK ((outcome IS NULL) = (finished_at IS NULL))
);
COMMENT ON TABLE public.delivery_attempts IS 'one row per attempt at a delivery job';
COMMENT ON COLUMN public.delivery_attempts.id IS 'operational: attempt id';
COMMENT ON COLUMN public.delivery_attempts.job_id IS 'operational: the job';
COMMENT ON COLUMN public.delivery_attempts.attempt IS 'operational: attempt number';
COMMENT ON COLUMN public.delivery_attempts.worker IS 'operational: the worker that ran it';
COMMENT ON COLUMN public.delivery_attempts.started_at IS 'operational: start';
COMMENT ON COLUMN public.delivery_attempts.finished_at IS 'operational: end';
COMMENT ON COLUMN public.delivery_attempts.outcome IS 'operational: how it ended';
COMMENT ON COLUMN public.delivery_attempts.provider_ref IS 'operational: the provider''s reference (SMTP reply, Stripe id)';
COMMENT ON COLUMN public.delivery_attempts.error IS 'operational: redacted error';

CREATE TABLE public.email_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id bigint REFERENCES public.delivery_jobs (id) ON DELETE SET NULL,
  user_id uuid REFERENCES auth.users (id) ON DELETE CASCADE,
  template text NOT NULL CHECK (template IN ('receipt', 'artifact_ready', 'gift', 'echo', 'access_recovery')),
  -- Who receives it, as a reference: the person (their user id) or a gift recipient (the gift
  -- artifact's id). The address is looked up at send time and never copied here.
  recipient_kind text NOT NULL CHECK (recipient_kind IN ('person', 'gift_recipient')),
  recipient_ref uuid NOT NULL,
  subject text NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 200),
  message_id text NOT NULL UNIQUE CHECK (message_id ~ '^<[A-Za-z0-9._-]{1,120}@[A-Za-z0-9.-]{1,120}>$'),
  status text NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'sent', 'failed', 'bounced', 'cancelled')),
  provider_ref text CHECK (char_length(provider_ref) <= 200),
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  CHECK ((status = 'sent') <= (sent_at IS NOT NULL))
);
CREATE INDEX email_messages_user ON public.email_messages (user_id);
COMMENT ON TABLE public.email_messages IS 'one row per e-mail: no address copies, never the question';
COMMENT ON COLUMN public.email_messages.id IS 'operational: message row id';
COMMENT ON COLUMN public.email_messages.job_id IS 'operational: the job that sends it';
COMMENT ON COLUMN public.email_messages.user_id IS 'pii: the person it concerns';
COMMENT ON COLUMN public.email_messages.template IS 'operational: which template';
COMMENT ON COLUMN public.email_messages.recipient_kind IS 'operational: person or gift recipient';
COMMENT ON COLUMN public.email_messages.recipient_ref IS 'pii: the recipient''s reference (user id or gift artifact id)';
COMMENT ON COLUMN public.email_messages.subject IS 'operational: the subject line (a template''s, no private text)';
COMMENT ON COLUMN public.email_messages.message_id IS 'operational: deterministic Message-ID per delivery';
COMMENT ON COLUMN public.email_messages.status IS 'operational: queued, sent, failed, bounced or cancelled';
COMMENT ON COLUMN public.email_messages.provider_ref IS 'operational: the SMTP server''s reply';
COMMENT ON COLUMN public.email_messages.created_at IS 'operational: when';
COMMENT ON COLUMN public.email_messages.sent_at IS 'operational: when it was accepted by SMTP';

-- Enqueue a job inside the caller's transaction; the same idempotency_key returns the
-- existing job. The notification is delivered at commit, and PostgreSQL folds identical
-- notifications of one transaction into one: that is the debounce.
CREATE FUNCTION scrollkeep.enqueue_job(kind text, payload jsonb, idempotency_key text DEFAULT NULL,
                                       run_at timestamptz DEFAULT now()) RETURNS bigint
  LANGUAGE plpgsql SET search_path = ''
AS $$
#variable_conflict use_column
DECLARE
  job_id bigint;
  attempts_allowed integer;
BEGIN
  SELECT k.max_attempts INTO attempts_allowed FROM scrollkeep.job_kinds k WHERE k.kind = enqueue_job.kind;
  IF attempts_allowed IS NULL THEN
    RAISE EXCEPTION 'unknown job kind %', enqueue_job.kind USING ERRCODE = '22023';
  END IF;
  INSERT INTO public.delivery_jobs (kind, payload, idempotency_key, next_run_at, max_attempts, user_id)
  VALUES (enqueue_job.kind, coalesce(enqueue_job.payload, '{}'::jsonb), enqueue_job.idempotency_key,
          coalesce(enqueue_job.run_at, now()), attempts_allowed,
          (enqueue_job.payload ->> 'user_id')::uuid)
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING id INTO job_id;
  IF job_id IS NULL THEN
    SELECT j.id INTO job_id FROM public.delivery_jobs j WHERE j.idempotency_key = enqueue_job.idempotency_key;
  ELSE
    PERFORM pg_notify('scrollkeep_jobs', enqueue_job.kind);
  END IF;
  RETURN job_id;
END $$;
GRANT EXECUTE ON FUNCTION scrollkeep.enqueue_job(text, jsonb, text, timestamptz) TO service_role;

ALTER TABLE public.delivery_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.delivery_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.email_messages ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.delivery_jobs, public.delivery_attempts, public.email_messages
  FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.delivery_jobs, public.delivery_attempts,
  public.email_messages TO service_role;
-- Jobs are the server's: a person sees their deliveries through the routes that own them.
CREATE POLICY delivery_jobs_service_only ON public.delivery_jobs
  FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY delivery_attempts_service_only ON public.delivery_attempts
  FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY email_messages_service_only ON public.email_messages
  FOR ALL TO service_role USING (true) WITH CHECK (true);
