-- Data-subject rights and the AI contract's ledger.
--   deletion_requests  requested -> verified -> scheduled -> running -> completed
--                      (or rejected / cancelled), due within the legal month; a trigger
--                      refuses any other move.
--   data_exports       the archives written for access and portability requests.
--   erasure_tombstones a keyed hash of each erased subject, and nothing else, so a restore
--                      from an older backup can find them again and forget them again.
--   ai_calls           each call to the AI: task, the names of the fields sent, a hash of
--                      the input, the table written; never the values.

CREATE TABLE public.deletion_requests (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- SET NULL: the request outlives the person as the record that they were forgotten.
  user_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  status text NOT NULL DEFAULT 'requested'
    CHECK (status IN ('requested', 'verified', 'scheduled', 'running', 'completed', 'rejected', 'cancelled')),
  source text NOT NULL CHECK (source IN ('api', 'cli', 'support')),
  requested_at timestamptz NOT NULL DEFAULT now(),
  due_at timestamptz NOT NULL,
  extended_due_at timestamptz,
  extension_reason text CHECK (char_length(extension_reason) BETWEEN 1 AND 500),
  grace_until timestamptz,
  verified_at timestamptz,
  scheduled_for timestamptz,
  started_at timestamptz,
  completed_at timestamptz,
  step text CHECK (step ~ '^[a-z_]{1,40}$'),
  report jsonb CHECK (jsonb_typeof(report) = 'object'),
  report_sha256 text CHECK (report_sha256 ~ '^[0-9a-f]{64}$'),
  reject_reason text CHECK (char_length(reject_reason) BETWEEN 1 AND 500),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (due_at > requested_at AND due_at <= requested_at + interval '1 month' + interval '1 day'),
  CHECK (extended_due_at IS NULL
         OR (extension_reason IS NOT NULL AND extended_due_at > due_at
             AND extended_due_at <= due_at + interval '2 months')),
  CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
  CHECK (status <> 'rejected' OR reject_reason IS NOT NULL)
);
-- One open request per person at a time.
CREATE UNIQUE INDEX deletion_requests_one_open ON public.deletion_requests (user_id)
  WHERE status IN ('requested', 'verified', 'scheduled', 'running');
CREATE INDEX deletion_requests_due ON public.deletion_requests (coalesce(extended_due_at, due_at))
  WHERE status NOT IN ('completed', 'rejected', 'cancelled');
COMMENT ON TABLE public.deletion_requests IS 'erasure requests and their progress';
COMMENT ON COLUMN public.deletion_requests.id IS 'operational: request id';
COMMENT ON COLUMN public.deletion_requests.user_id IS 'pii: the person to forget; null once forgotten';
COMMENT ON COLUMN public.deletion_requests.status IS 'operational: where the request stands';
COMMENT ON COLUMN public.deletion_requests.source IS 'operational: api, cli or support';
COMMENT ON COLUMN public.deletion_requests.requested_at IS 'operational: when it was asked for';
COMMENT ON COLUMN public.deletion_requests.due_at IS 'operational: legal due date (one month)';
COMMENT ON COLUMN public.deletion_requests.extended_due_at IS 'operational: extended due date (up to two more months)';
COMMENT ON COLUMN public.deletion_requests.extension_reason IS 'operational: why it was extended, as told to the person';
COMMENT ON COLUMN public.deletion_requests.grace_until IS 'operational: the person may cancel until then';
COMMENT ON COLUMN public.deletion_requests.verified_at IS 'operational: when identity was verified';
COMMENT ON COLUMN public.deletion_requests.scheduled_for IS 'operational: when it will run';
COMMENT ON COLUMN public.deletion_requests.started_at IS 'operational: when it began';
COMMENT ON COLUMN public.deletion_requests.completed_at IS 'operational: when it ended';
COMMENT ON COLUMN public.deletion_requests.step IS 'operational: last completed step (resumable)';
COMMENT ON COLUMN public.deletion_requests.report IS 'operational: the proof''s report: counts and locations only';
COMMENT ON COLUMN public.deletion_requests.report_sha256 IS 'operational: hash of the report (also in the audit chain)';
COMMENT ON COLUMN public.deletion_requests.reject_reason IS 'operational: why it was rejected';
COMMENT ON COLUMN public.deletion_requests.created_at IS 'operational: when';
COMMENT ON COLUMN public.deletion_requests.updated_at IS 'operational: last change';
CREATE TRIGGER deletion_requests_touch BEFORE UPDATE ON public.deletion_requests
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();
CREATE TRIGGER deletion_requests_transitions BEFORE UPDATE OF status ON public.deletion_requests
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.guard_status_transition(
    'requested>verified', 'requested>rejected', 'requested>cancelled',
    'verified>scheduled', 'verified>rejected', 'verified>cancelled',
    'scheduled>running', 'scheduled>cancelled',
    'running>completed');

CREATE TABLE public.data_exports (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'requested'
    CHECK (status IN ('requested', 'running', 'ready', 'expired', 'failed')),
  source text NOT NULL CHECK (source IN ('api', 'cli', 'support')),
  requested_at timestamptz NOT NULL DEFAULT now(),
  due_at timestamptz NOT NULL,
  storage_path text CHECK (storage_path ~ '^exports/[0-9a-f-]{36}\.json$'),
  sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  bytes bigint CHECK (bytes >= 0),
  download_token_sha256 text UNIQUE CHECK (download_token_sha256 ~ '^[0-9a-f]{64}$'),
  expires_at timestamptz,
  ready_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (status <> 'ready' OR (storage_path IS NOT NULL AND sha256 IS NOT NULL AND expires_at IS NOT NULL))
);
CREATE INDEX data_exports_user ON public.data_exports (user_id);
COMMENT ON TABLE public.data_exports IS 'access and portability archives';
COMMENT ON COLUMN public.data_exports.id IS 'operational: export id';
COMMENT ON COLUMN public.data_exports.user_id IS 'pii: the person exported';
COMMENT ON COLUMN public.data_exports.status IS 'operational: requested, running, ready, expired or failed';
COMMENT ON COLUMN public.data_exports.source IS 'operational: api, cli or support';
COMMENT ON COLUMN public.data_exports.requested_at IS 'operational: when it was asked for';
COMMENT ON COLUMN public.data_exports.due_at IS 'operational: legal due date';
COMMENT ON COLUMN public.data_exports.storage_path IS 'operational: the archive in the artifact store';
COMMENT ON COLUMN public.data_exports.sha256 IS 'operational: sha256 of the archive';
COMMENT ON COLUMN public.data_exports.bytes IS 'operational: size of the archive';
COMMENT ON COLUMN public.data_exports.download_token_sha256 IS 'operational: hash of the private download link token';
COMMENT ON COLUMN public.data_exports.expires_at IS 'operational: when the link expires';
COMMENT ON COLUMN public.data_exports.ready_at IS 'operational: when it was ready';
COMMENT ON COLUMN public.data_exports.created_at IS 'operational: when';
COMMENT ON COLUMN public.data_exports.updated_at IS 'operational: last change';
CREATE TRIGGER data_exports_touch BEFORE UPDATE ON public.data_exports
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.touch_updated_at();

CREATE TABLE public.erasure_tombstones (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subject_hmac text NOT NULL UNIQUE CHECK (subject_hmac ~ '^[0-9a-f]{64}$'),
  key_id text NOT NULL CHECK (key_id ~ '^[A-Za-z0-9._-]{1,40}$'),
  deletion_request_id uuid REFERENCES public.deletion_requests (id) ON DELETE SET NULL,
  erased_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.erasure_tombstones IS 'keyed hashes of erased subjects, re-applied after a restore';
COMMENT ON COLUMN public.erasure_tombstones.id IS 'operational: row id';
COMMENT ON COLUMN public.erasure_tombstones.subject_hmac IS 'operational: HMAC-SHA256 of the erased user id';
COMMENT ON COLUMN public.erasure_tombstones.key_id IS 'operational: which key made the HMAC';
COMMENT ON COLUMN public.erasure_tombstones.deletion_request_id IS 'operational: the request that erased them';
COMMENT ON COLUMN public.erasure_tombstones.erased_at IS 'operational: when';
CREATE TRIGGER erasure_tombstones_append_only BEFORE UPDATE OR DELETE ON public.erasure_tombstones
  FOR EACH ROW EXECUTE FUNCTION scrollkeep.refuse_change();

CREATE TABLE public.ai_calls (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  task text NOT NULL CHECK (task IN ('reading_answer', 'echo_followup', 'council_voice')),
  user_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
  fields_sent text[] NOT NULL CHECK (cardinality(fields_sent) <= 32),
  input_sha256 text NOT NULL CHECK (input_sha256 ~ '^[0-9a-f]{64}$'),
  output_table text NOT NULL CHECK (output_table ~ '^[a-z_]{1,63}$'),
  output_id uuid,
  status text NOT NULL CHECK (status IN ('succeeded', 'rejected_output', 'refused_consent', 'failed')),
  model text CHECK (char_length(model) <= 100),
  duration_ms integer CHECK (duration_ms >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ai_calls_user ON public.ai_calls (user_id) WHERE user_id IS NOT NULL;
COMMENT ON TABLE public.ai_calls IS 'the AI contract''s ledger: names and hashes, never values';
COMMENT ON COLUMN public.ai_calls.id IS 'operational: call id';
COMMENT ON COLUMN public.ai_calls.task IS 'operational: declared AI task';
COMMENT ON COLUMN public.ai_calls.user_id IS 'pii: whose data the call used';
COMMENT ON COLUMN public.ai_calls.fields_sent IS 'operational: names of the fields sent';
COMMENT ON COLUMN public.ai_calls.input_sha256 IS 'operational: sha256 of the request body';
COMMENT ON COLUMN public.ai_calls.output_table IS 'operational: the table written';
COMMENT ON COLUMN public.ai_calls.output_id IS 'operational: the row written';
COMMENT ON COLUMN public.ai_calls.status IS 'operational: how it ended';
COMMENT ON COLUMN public.ai_calls.model IS 'operational: model name';
COMMENT ON COLUMN public.ai_calls.duration_ms IS 'operational: latency';
COMMENT ON COLUMN public.ai_calls.created_at IS 'operational: when';

ALTER TABLE public.deletion_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.data_exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.erasure_tombstones ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ai_calls ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.deletion_requests, public.data_exports, public.erasure_tombstones,
  public.ai_calls FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.deletion_requests, public.data_exports TO authenticated;
GRANT SELECT, INSERT, UPDATE ON public.deletion_requests, public.data_exports, public.ai_calls TO service_role;
GRANT SELECT, INSERT ON public.erasure_tombstones TO service_role;
CREATE POLICY deletion_requests_owner_read ON public.deletion_requests
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY data_exports_owner_read ON public.data_exports
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
CREATE POLICY erasure_tombstones_service_only ON public.erasure_tombstones
  FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY ai_calls_service_only ON public.ai_calls
  FOR ALL TO service_role USING (true) WITH CHECK (true);
