/*
 * handler_stripe.c — stripe_event_job: process one stored Stripe event through the one
 * fulfillment path (domain/fulfill.c), in one transaction. The ledger's verdicts are final
 * for the job: an event for a session that is not ours, or one that does not match the
 * catalog, is marked failed on the event (for `stripe replay --failed`), not retried; only a
 * database that cannot be reached is.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "core/json.h"
#include "domain/fulfill.h"
#include "jobs/handler.h"
#include "jobs/handlers_common.h"

void handle_stripe_event(struct job_env *env, const struct queue_job *job, struct queue_result *r)
{
	json_error_t jerr;
	json_t *p = json_loads(job->payload ? job->payload : "{}", 0, &jerr);
	json_t *row = json_object_get(p, "stripe_event");
	long long id = json_is_integer(row) ? (long long)json_integer_value(row) : 0;
	json_decref(p);
	if (id <= 0)
		return job_fail(r, JOB_PERMANENT, "the payload names no stored event");
	struct sk_err err = {0};
	if (!env->conn || db_exec(env->conn, "BEGIN", 0, NULL, &err) < 0)
		return job_fail(r, JOB_TRANSIENT, "the database is unavailable");
	json_t *verdict = fulfill_event(env->conn, id, false, &err);
	if (!verdict || db_commit(env->conn, &err) < 0) {
		db_rollback(env->conn);
		json_decref(verdict);
		return job_fail(r, JOB_TRANSIENT, "cannot process the event");
	}
	r->outcome = JOB_SUCCEEDED;
	const char *result = json_str(verdict, "result");
	snprintf(r->provider_ref, sizeof(r->provider_ref), "%s", result ? result : "?");
	json_decref(verdict);
}
