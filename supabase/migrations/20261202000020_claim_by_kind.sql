-- The claim's index, by kind. A worker claims the kinds it has handlers for (`worker --kinds`
-- names fewer); in one claim order across all kinds, its claim walked past every queued job
-- of the kinds it does not run: with 20,000 receipts waiting for their own worker, each claim
-- of Stripe events took 20 ms. By kind, the claim reads each of its kinds' first due jobs
-- (src/jobs/queue.c), and another kind's backlog costs it nothing.
DROP INDEX public.delivery_jobs_due;
CREATE INDEX delivery_jobs_due ON public.delivery_jobs (kind, priority DESC, next_run_at, id)
  WHERE status = 'queued';
