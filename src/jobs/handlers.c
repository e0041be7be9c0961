/*
 * handlers.c — the registry of job handlers by kind.
 *
 * Test builds (SCROLLKEEP_TEST_HOOKS) add two kinds the tests create in their own databases,
 * test_job (idempotent) and test_external_job (external), whose handler does what the
 * payload says, so the engine's every path can be driven from a test. Release builds have no
 * such handler, and the production schema has no such kind.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "jobs/handler.h"
#include "jobs/handlers_common.h"

/* noop_job: nothing to do. It measures and probes the queue itself. */
static void handle_noop(struct job_env *env, const struct queue_job *job,
                        struct queue_result *result)
{
	(void)env;
	(void)job;
	result->outcome = JOB_SUCCEEDED;
}

#ifdef SCROLLKEEP_TEST_HOOKS
/* test_job / test_external_job: the payload says what to do.
 *   {"sleep_ms": N}        take that long (so leases and stops can be tested)
 *   {"record": true}       insert a row into test_job_runs (the test creates that table)
 *   {"outcome": "…"}       end as succeeded, transient, permanent or provider_down
 *   {"outcome_until": N}   end as "outcome" until run N, then succeed */
static void handle_test(struct job_env *env, const struct queue_job *job,
                        struct queue_result *result)
{
	json_error_t jerr;
	json_t *p = json_loads(job->payload, 0, &jerr);
	json_int_t sleep_ms = json_integer_value(json_object_get(p, "sleep_ms"));
	if (sleep_ms > 0) {
		struct timespec ts = {sleep_ms / 1000, (long)(sleep_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (json_is_true(json_object_get(p, "record")) && env->conn) {
		char id[24], run[16];
		snprintf(id, sizeof(id), "%lld", job->id);
		snprintf(run, sizeof(run), "%d", job->run);
		const char *params[] = {id, env->worker, run};
		struct sk_err err;
		db_exec(env->conn,
		        "INSERT INTO public.test_job_runs (job_id, worker, run) VALUES ($1, $2, $3)",
		        3, params, &err);
	}
	const char *outcome = json_string_value(json_object_get(p, "outcome"));
	json_int_t until = json_integer_value(json_object_get(p, "outcome_until"));
	result->outcome = JOB_SUCCEEDED;
	if (outcome && (until == 0 || job->run < until)) {
		if (strcmp(outcome, "transient") == 0)
			result->outcome = JOB_TRANSIENT;
		else if (strcmp(outcome, "permanent") == 0)
			result->outcome = JOB_PERMANENT;
		else if (strcmp(outcome, "provider_down") == 0) {
			result->outcome = JOB_PROVIDER_DOWN;
			result->pause_seconds = 2;
		}
		snprintf(result->error, sizeof(result->error),
		         "test %s failure for ops@example.com (should be redacted)", outcome);
	}
	snprintf(result->provider_ref, sizeof(result->provider_ref), "test-ref-%lld-%d", job->id,
	         job->run);
	json_decref(p);
}
#endif

const struct job_handler job_handlers[] = {
        {"noop_job", handle_noop, NULL},
        {"pdf_render_job", handle_render, NULL},
        {"private_pdf_render_job", handle_render, NULL},
        {"share_card_render_job", handle_render, NULL},
        {"gift_delivery_job", handle_gift, NULL},
        {"artifact_ready_email_job", handle_artifact_ready_email, NULL},
        {"echo_delivery_job", handle_echo, NULL},
        {"recovery_email_job", handle_recovery_email, NULL},
        {"receipt_email_job", handle_receipt_email, NULL},
        {"stripe_event_job", handle_stripe_event, handle_stripe_events},
        {"privacy_export_job", handle_privacy_export, NULL},
        {"privacy_deletion_job", handle_privacy_deletion, NULL},
#ifdef SCROLLKEEP_TEST_HOOKS
        {"test_job", handle_test, NULL},
        {"test_external_job", handle_test, NULL},
#endif
};
const size_t job_handler_count = sizeof(job_handlers) / sizeof(job_handlers[0]);

const struct job_handler *job_handler_find(const char *kind)
{
	for (size_t i = 0; i < job_handler_count; i++)
		if (strcmp(job_handlers[i].kind, kind) == 0)
			return &job_handlers[i];
	return NULL;
}
