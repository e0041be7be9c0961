/*
 * queue.c — enqueueing jobs (see queue.h).
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/db.h"

static const char *const sql_enqueue =
        "SELECT scrollkeep.enqueue_job($1, $2::jsonb, $3, coalesce($4::timestamptz, now()))";

/* A separate statement: one that both inserted and read the job would not see it (its
 * snapshot is taken before the insert). */
static const char *const sql_job =
        "SELECT id, support_ref, status FROM public.delivery_jobs WHERE id = $1";

int queue_enqueue(PGconn *conn, const char *kind, const json_t *payload,
                  const char *idempotency_key, const char *run_at, struct queue_job_ref *job,
                  struct sk_err *err)
{
	char *text = json_dumps(payload, JSON_COMPACT);
	if (!text)
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	const char *params[] = {kind, text, idempotency_key, run_at};
	PGresult *res = db_query(conn, sql_enqueue, 4, params, err);
	free(text);
	if (!res)
		return -1;
	char id[24];
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	const char *job_params[] = {id};
	res = db_query(conn, sql_job, 1, job_params, err);
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return err_set(err, PROBLEM_INTERNAL, "the job was not enqueued");
	}
	if (job) {
		job->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		snprintf(job->support_ref, sizeof(job->support_ref), "%s", PQgetvalue(res, 0, 1));
		snprintf(job->status, sizeof(job->status), "%s", PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return 0;
}
