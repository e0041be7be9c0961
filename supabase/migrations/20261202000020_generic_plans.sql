-- The ledger's functions take their batch as arrays. Left to plan_cache_mode = auto, each of
-- their statements was planned again on every call (a custom plan, which knows the arrays'
-- lengths, always looked cheaper than the generic one): about 3 ms a call, whatever the size
-- of the batch — measured, a call for one event took 5.5 ms with custom plans and 2.2 ms with
-- generic ones, and a call for 512 events no longer either. The generic plans (index lookups
-- per element) are the right ones for every batch size these functions see.
ALTER FUNCTION scrollkeep.process_stripe_events(bigint[], boolean) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION scrollkeep.apply_ledger(scrollkeep.ledger_item[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION scrollkeep.ledger_pass(scrollkeep.ledger_work[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION scrollkeep.ledger_settle(uuid[], text[]) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION scrollkeep.enqueue_jobs(jsonb, boolean) SET plan_cache_mode = force_generic_plan;
