/*
 * handler_privacy.c — privacy_export_job and privacy_deletion_job: the data-subject requests'
 * work, run by the worker (see domain/privacy.h). Both resume where a crash left them: the
 * export rewrites its archive whole, the deletion goes on from its last recorded step.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "domain/privacy.h"
#include "jobs/handlers_common.h"

static enum job_outcome outcome_of(const struct sk_err *err)
{
	return err->problem == PROBLEM_NOT_FOUND ? JOB_PERMANENT : JOB_TRANSIENT;
}

void handle_privacy_export(struct job_env *env, const struct queue_job *job, struct queue_result *r)
{
	char id[37];
	if (!job_payload_uuid(job, "data_export", id))
		return job_fail(r, JOB_PERMANENT, "the payload names no data export");
	if (!env->conn)
		return job_fail(r, JOB_TRANSIENT, "the database is unavailable");
	struct sk_err err = {0};
	if (privacy_export_run(env->conn, env->cfg, id, &err) < 0)
		return job_fail(r, outcome_of(&err), err.detail);
	r->outcome = JOB_SUCCEEDED;
}

void handle_privacy_deletion(struct job_env *env, const struct queue_job *job,
                             struct queue_result *r)
{
	char id[37];
	if (!job_payload_uuid(job, "deletion_request", id))
		return job_fail(r, JOB_PERMANENT, "the payload names no deletion request");
	if (!env->conn)
		return job_fail(r, JOB_TRANSIENT, "the database is unavailable");
	struct sk_err err = {0};
	json_t *done = NULL;
	if (privacy_forget_run(env->conn, env->cfg, id, &done, &err) < 0) {
		/* A request cancelled or rejected meanwhile has nothing left to do. */
		if (err.problem == PROBLEM_CONFLICT) {
			r->outcome = JOB_SUCCEEDED;
			return;
		}
		return job_fail(r, outcome_of(&err), err.detail);
	}
	const char *status = json_string_value(json_object_get(done, "status"));
	if (status && strcmp(status, "completed") == 0) {
		r->outcome = JOB_SUCCEEDED;
	} else {
		char why[128];
		snprintf(why, sizeof(why), "the proof found the person in %lld places",
		         (long long)json_integer_value(
		                 json_object_get(json_object_get(done, "report"), "hits")));
		job_fail(r, JOB_PERMANENT, why);
	}
	json_decref(done);
}
