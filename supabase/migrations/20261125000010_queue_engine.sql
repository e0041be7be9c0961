-- The queue engine's schema: what a worker needs beyond the tables of the delivery migration.
--   * job_kinds gains a pause (a provider that is down backs off its whole kind) and the
--     noop_job kind (a job that does nothing: probes of the queue, and its benchmark);
--   * delivery_jobs records when the current lease began (the start of the attempt) and how
--     many times the job ran (a provider outage runs a job without spending an attempt);
--   * delivery_attempts outlive their job: pruning finished jobs keeps their attempts for as
--     long as configured, with the job's kind and support reference copied in;
--   * enqueue_job takes a priority and a deadline, enqueue_jobs enqueues a batch, and
--     retry_delay is the one backoff schedule.

ALTER TABLE scrollkeep.job_kinds
  ADD COLUMN paused_until timestamptz,
  ADD COLUMN pause_reason text CHECK (char_length(pause_reason) <= 200);
COMMENT ON COLUMN scrollkeep.job_kinds.paused_until IS 'operational: no job of this kind is claimed before then (provider down)';
COMMENT ON COLUMN scrollkeep.job_kinds.pause_reason IS 'operational: why the kind is paused (redacted)';
GRANT UPDATE (paused_until, pause_reason) ON scrollkeep.job_kinds TO service_role;

INSERT INTO scrollkeep.job_kinds (kind, side_effect, max_attempts, description)
VALUES ('noop_job', 'idempotent', 3, 'does nothing: probes the queue and measures it');

-- A retried job gets a fresh set of attempts on top of those it spent; attempts keep their
-- numbers, so the bound is no longer 100.
ALTER TABLE public.delivery_jobs DROP CONSTRAINT delivery_jobs_max_attempts_check;
ALTER TABLE public.delivery_jobs ADD CONSTRAINT delivery_jobs_max_attempts_check CHECK (max_attempts >= 1);
ALTER TABLE public.delivery_jobs ADD COLUMN leased_at timestamptz;
-- attempts counts the attempts spent against max_attempts (a provider outage does not spend
-- one); runs counts every run, and numbers the attempt rows.
ALTER TABLE public.delivery_jobs ADD COLUMN runs integer NOT NULL DEFAULT 0 CHECK (runs >= attempts);
COMMENT ON COLUMN public.delivery_jobs.runs IS 'operational: times the job was started (numbers its attempts)';
CREATE INDEX delivery_jobs_deadlines ON public.delivery_jobs (deliver_by)
  WHERE status = 'queued' AND deliver_by IS NOT NULL;
ALTER TABLE public.delivery_jobs ADD CONSTRAINT delivery_jobs_leased_at_check
  CHECK ((lease_token IS NULL) = (leased_at IS NULL));
COMMENT ON COLUMN public.delivery_jobs.leased_at IS 'operational: when the current lease (the attempt) began';
CREATE INDEX delivery_jobs_finished ON public.delivery_jobs (finished_at)
  WHERE status IN ('succeeded', 'cancelled', 'expired');

-- Every status change is an update that cannot be HOT (status decides the partial indexes),
-- so each index costs an entry per change: keep only those the hot path needs. (kind,
-- status) served only the stats; the idempotency key's unique index need not hold the NULLs
-- of every job enqueued without a key.
DROP INDEX public.delivery_jobs_kind_status;

-- The engine's statements set updated_at themselves; the trigger keeps it true for any other
-- writer, and its WHEN clause (checked without calling PL/pgSQL) skips it for the engine.
DROP TRIGGER delivery_jobs_touch ON public.delivery_jobs;
CREATE TRIGGER delivery_jobs_touch BEFORE UPDATE ON public.delivery_jobs
  FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
  EXECUTE FUNCTION scrollkeep.touch_updated_at();
ALTER TABLE public.delivery_jobs DROP CONSTRAINT delivery_jobs_idempotency_key_key;
CREATE UNIQUE INDEX delivery_jobs_idempotency_key ON public.delivery_jobs (idempotency_key)
  WHERE idempotency_key IS NOT NULL;

ALTER TABLE public.delivery_attempts
  ADD COLUMN kind text,
  ADD COLUMN support_ref text CHECK (support_ref ~ '^SK-[0-9A-Z]{4}-[0-9A-Z]{4}$'),
  ALTER COLUMN job_id DROP NOT NULL,
  DROP CONSTRAINT delivery_attempts_job_id_fkey,
  ADD CONSTRAINT delivery_attempts_job_id_fkey FOREIGN KEY (job_id)
    REFERENCES public.delivery_jobs (id) ON DELETE SET NULL;
-- (job_id, attempt) is already unique, and so indexed. Attempts are looked up by support
-- reference, and pruned by age, only once their job is gone.
CREATE INDEX delivery_attempts_orphan_ref ON public.delivery_attempts (support_ref) WHERE job_id IS NULL;
CREATE INDEX delivery_attempts_orphan_age ON public.delivery_attempts (finished_at) WHERE job_id IS NULL;
COMMENT ON COLUMN public.delivery_attempts.kind IS 'operational: the job''s kind (kept after the job is pruned)';
COMMENT ON COLUMN public.delivery_attempts.support_ref IS 'operational: the job''s support reference (kept after the job is pruned)';

-- The backoff: 2 s doubling per attempt, capped at one hour, with ±25 % jitter so that jobs
-- failed together do not come back together.
CREATE FUNCTION scrollkeep.retry_delay(attempt integer) RETURNS interval
  LANGUAGE sql VOLATILE SET search_path = ''
AS $$
  SELECT make_interval(secs => least(3600, 2 * power(2, greatest(attempt, 1) - 1))
                              * (0.75 + random() * 0.5))
$$;
GRANT EXECUTE ON FUNCTION scrollkeep.retry_delay(integer) TO service_role;

DROP FUNCTION scrollkeep.enqueue_job(text, jsonb, text, timestamptz);

-- Enqueue a job inside the caller's transaction; the same idempotency_key returns the
-- existing job. The notification is delivered at commit, and PostgreSQL folds identical
-- notifications of one transaction into one: that is the debounce. A job scheduled for later
-- wakes nobody; the workers' polling finds it when it is due.
CREATE FUNCTION scrollkeep.enqueue_job(kind text, payload jsonb, idempotency_key text DEFAULT NULL,
                                       run_at timestamptz DEFAULT now(), priority smallint DEFAULT 0,
                                       deliver_by timestamptz DEFAULT NULL) RETURNS bigint
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
  INSERT INTO public.delivery_jobs (kind, payload, idempotency_key, next_run_at, max_attempts,
                                    user_id, priority, deliver_by)
  VALUES (enqueue_job.kind, coalesce(enqueue_job.payload, '{}'::jsonb), enqueue_job.idempotency_key,
          coalesce(enqueue_job.run_at, now()), attempts_allowed,
          (enqueue_job.payload ->> 'user_id')::uuid, coalesce(enqueue_job.priority, 0),
          enqueue_job.deliver_by)
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id INTO job_id;
  IF job_id IS NULL THEN
    SELECT j.id INTO job_id FROM public.delivery_jobs j WHERE j.idempotency_key = enqueue_job.idempotency_key;
  ELSIF coalesce(enqueue_job.run_at, now()) <= now() THEN
    PERFORM pg_notify('scrollkeep_jobs', enqueue_job.kind);
  END IF;
  RETURN job_id;
END $$;
GRANT EXECUTE ON FUNCTION scrollkeep.enqueue_job(text, jsonb, text, timestamptz, smallint, timestamptz)
  TO service_role;

-- Enqueue many in one statement: jobs is a JSON array of {kind, payload, idempotency_key?,
-- run_at?, priority?, deliver_by?}. Returns the job ids in the order given.
CREATE FUNCTION scrollkeep.enqueue_jobs(jobs jsonb) RETURNS SETOF bigint
  LANGUAGE sql SET search_path = ''
AS $$
  SELECT scrollkeep.enqueue_job(j.kind, j.payload, j.idempotency_key, coalesce(j.run_at, now()),
                                coalesce(j.priority, 0)::smallint, j.deliver_by)
    FROM ROWS FROM (jsonb_to_recordset(jobs)
                    AS (kind text, payload jsonb, idempotency_key text, run_at timestamptz,
                        priority integer, deliver_by timestamptz)) WITH ORDINALITY AS j
   ORDER BY j.ordinality
$$;
GRANT EXECUTE ON FUNCTION scrollkeep.enqueue_jobs(jsonb) TO service_role;
