/*
 * support.c — the operators' view of the queue (see support.h).
 */
#include "support.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/json.h"
#include "domain/audit.h"

static const char *const statuses[] = {"queued",  "running",   "succeeded", "dead",
                                       "unknown", "cancelled", "expired",   NULL};

static const struct json_field retry_fields[] = {
        {"reason", JSON_FIELD_STRING, true, 1, 500, NULL},
        {"actor", JSON_FIELD_STRING, false, 1, 80, NULL},
};

int jobs_retry_validate(const json_t *body, struct sk_err *err)
{
	return json_check_fields(body, retry_fields, sizeof(retry_fields) / sizeof(retry_fields[0]),
	                         NULL, err);
}

bool jobs_ref_valid(const char *t)
{
	size_t n = t ? strlen(t) : 0;
	if (n == 0)
		return false;
	bool digits = n <= 18;
	for (size_t i = 0; i < n && digits; i++)
		digits = isdigit((unsigned char)t[i]);
	if (digits)
		return true;
	if (n != 12 || strncmp(t, "SK-", 3) != 0 || t[7] != '-')
		return false;
	for (size_t i = 3; i < 12; i++)
		if (i != 7 && !(isdigit((unsigned char)t[i]) || isupper((unsigned char)t[i])))
			return false;
	return true;
}

/* The id and reference parameters for "WHERE id = $1 OR support_ref = $2". */
static void ref_params(const char *ref, const char **id, const char **support_ref)
{
	bool is_id = isdigit((unsigned char)ref[0]);
	*id = is_id ? ref : NULL;
	*support_ref = is_id ? NULL : ref;
}

static json_t *one_json(PGconn *conn, const char *sql, int n, const char *const *params,
                        struct sk_err *err)
{
	PGresult *res = db_query(conn, sql, n, params, err);
	if (!res)
		return NULL;
	json_t *out = NULL;
	json_error_t jerr;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		out = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	PQclear(res);
	return out;
}

#define SQL_JOB_JSON                                                                               \
	"json_build_object('id', j.id, 'kind', j.kind, 'status', j.status, 'support_ref',"         \
	" j.support_ref, 'priority', j.priority, 'attempts', j.attempts, 'max_attempts',"          \
	" j.max_attempts, 'runs', j.runs, 'user_id', j.user_id, 'payload', j.payload,"             \
	" 'next_run_at', j.next_run_at, 'deliver_by', j.deliver_by, 'lease_owner', j.lease_owner," \
	" 'lease_expires_at', j.lease_expires_at, 'last_error', j.last_error, 'created_at',"       \
	" j.created_at, 'finished_at', j.finished_at)"

static const char *const sql_list =
        "SELECT json_build_object('jobs', coalesce(json_agg(" SQL_JOB_JSON
        " ORDER BY j.id DESC), '[]'))"
        "  FROM (SELECT * FROM public.delivery_jobs"
        "         WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR status = $2)"
        "           AND ($3::uuid IS NULL OR user_id = $3) AND ($4::text IS NULL OR support_ref = $4)"
        "           AND created_at <= now() - make_interval(secs => $5::int)"
        "         ORDER BY id DESC LIMIT $6) j";

json_t *jobs_list(PGconn *conn, const struct jobs_filter *f, struct sk_err *err)
{
	if (f->status) {
		bool known = false;
		for (const char *const *s = statuses; *s; s++)
			known = known || strcmp(*s, f->status) == 0;
		if (!known) {
			err_set(err, PROBLEM_INVALID_BODY,
			        "status must be one of queued, running, "
			        "succeeded, dead, unknown, cancelled, expired");
			return NULL;
		}
	}
	if (f->user_id && !json_is_uuid(f->user_id)) {
		err_set(err, PROBLEM_INVALID_BODY, "user must be a UUID");
		return NULL;
	}
	if (f->support_ref && !jobs_ref_valid(f->support_ref)) {
		err_set(err, PROBLEM_INVALID_BODY, "support_ref must look like SK-XXXX-XXXX");
		return NULL;
	}
	char age[24], limit[16];
	snprintf(age, sizeof(age), "%ld", f->older_than_s > 0 ? f->older_than_s : 0);
	snprintf(limit, sizeof(limit), "%d", f->limit > 0 && f->limit <= 1000 ? f->limit : 100);
	const char *params[] = {f->kind, f->status, f->user_id, f->support_ref, age, limit};
	json_t *out = one_json(conn, sql_list, 6, params, err);
	if (!out && err && err->problem == PROBLEM_NONE)
		err_set(err, PROBLEM_INTERNAL, "no answer");
	return out;
}

static const char *const sql_show_job =
        "SELECT " SQL_JOB_JSON " FROM public.delivery_jobs j WHERE j.id = $1 OR j.support_ref = $2";

static const char *const sql_show_attempts =
        "SELECT coalesce(json_agg(json_build_object('attempt', a.attempt, 'worker', a.worker,"
        " 'started_at', a.started_at, 'finished_at', a.finished_at, 'outcome', a.outcome,"
        " 'provider_ref', a.provider_ref, 'error', a.error) ORDER BY a.attempt, a.id), '[]')"
        "  FROM public.delivery_attempts a"
        " WHERE a.job_id = $1 OR (a.job_id IS NULL AND a.support_ref = $2)";

json_t *jobs_show(PGconn *conn, const char *ref, struct sk_err *err)
{
	const char *params[2];
	ref_params(ref, &params[0], &params[1]);
	struct sk_err qerr = {0};
	json_t *job = one_json(conn, sql_show_job, 2, params, &qerr);
	if (qerr.problem != PROBLEM_NONE) {
		if (err)
			*err = qerr;
		return NULL;
	}
	/* Once the job is pruned, its attempts are found by its reference. */
	const char *aparams[] = {job ? NULL : params[0], params[1]};
	char id[24];
	if (job) {
		snprintf(id, sizeof(id), "%lld",
		         (long long)json_integer_value(json_object_get(job, "id")));
		aparams[0] = id;
		aparams[1] = json_str(job, "support_ref");
	}
	json_t *attempts = one_json(conn, sql_show_attempts, 2, aparams, err);
	if (!attempts) {
		json_decref(job);
		return NULL;
	}
	if (!job && json_array_size(attempts) == 0) {
		json_decref(attempts);
		err_set(err, PROBLEM_NOT_FOUND, "no job has that id or support reference");
		return NULL;
	}
	return json_pack("{s:o, s:o}", "job", job ? job : json_null(), "attempts", attempts);
}

/* Why a job could not be moved: absent (404) or in another state (409). */
static json_t *refuse(PGconn *conn, const char *const *params, const char *verb,
                      const char *allowed, struct sk_err *err)
{
	PGresult *res = db_query(
	        conn, "SELECT status FROM public.delivery_jobs WHERE id = $1 OR support_ref = $2",
	        2, params, err);
	if (!res)
		return NULL;
	if (PQntuples(res) == 0)
		err_set(err, PROBLEM_NOT_FOUND, "no job has that id or support reference");
	else
		err_set(err, PROBLEM_CONFLICT, "the job is %s; only %s jobs can be %s",
		        PQgetvalue(res, 0, 0), allowed, verb);
	PQclear(res);
	return NULL;
}

static const char *const sql_retry =
        "WITH j AS (SELECT id, status, deliver_by <= now() AS deadline_passed"
        "             FROM public.delivery_jobs WHERE (id = $1 OR support_ref = $2)"
        "              AND status IN ('dead', 'unknown', 'cancelled', 'expired') FOR UPDATE)"
        "UPDATE public.delivery_jobs d SET status = 'queued', next_run_at = now(), finished_at = NULL,"
        "       max_attempts = d.attempts + k.max_attempts,"
        "       deliver_by = CASE WHEN j.deadline_passed THEN NULL ELSE d.deliver_by END"
        "  FROM j, scrollkeep.job_kinds k WHERE d.id = j.id AND k.kind = d.kind"
        " RETURNING d.id, d.support_ref, d.kind, j.status, coalesce(j.deadline_passed, false)";

static const char *const sql_cancel =
        "WITH j AS (SELECT id, status FROM public.delivery_jobs WHERE (id = $1 OR support_ref = $2)"
        "              AND status IN ('queued', 'running', 'unknown', 'dead') FOR UPDATE)"
        "UPDATE public.delivery_jobs d SET status = 'cancelled', finished_at = now(),"
        "       lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, leased_at = NULL,"
        "       last_error = 'cancelled by an operator'"
        "  FROM j WHERE d.id = j.id"
        " RETURNING d.id, d.support_ref, d.kind, j.status, false";

/* Move one job with sql, then audit it and (for a retry) wake the workers. */
static json_t *move(PGconn *conn, const char *sql, const char *ref, const char *actor,
                    const char *actor_role, const char *reason, const char *action,
                    const char *verb, const char *allowed, struct sk_err *err)
{
	if (!reason || !*reason) {
		err_set(err, PROBLEM_INVALID_BODY, "a reason is required");
		return NULL;
	}
	const char *params[2];
	ref_params(ref, &params[0], &params[1]);
	PGresult *res = db_query(conn, sql, 2, params, err);
	if (!res)
		return NULL;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return refuse(conn, params, verb, allowed, err);
	}
	json_t *out = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id",
	                        (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10), "support_ref",
	                        PQgetvalue(res, 0, 1), "kind", PQgetvalue(res, 0, 2), "from",
	                        PQgetvalue(res, 0, 3), "status",
	                        strcmp(action, "job.retry") == 0 ? "queued" : "cancelled");
	bool deadline_cleared = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
	char id[24];
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	char kind[64];
	snprintf(kind, sizeof(kind), "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	json_t *details = json_pack("{s:s, s:s, s:s, s:b}", "support_ref",
	                            json_str(out, "support_ref"), "kind", kind, "from",
	                            json_str(out, "from"), "deadline_cleared", deadline_cleared);
	struct audit_event ev = {actor, actor_role, action, "delivery_job", id, reason, details};
	int rc = audit_append(conn, &ev, err);
	json_decref(details);
	if (rc == 0 && strcmp(action, "job.retry") == 0) {
		const char *wake[] = {kind};
		rc = db_exec(conn, "SELECT pg_notify('scrollkeep_jobs', $1)", 1, wake, err);
	}
	if (rc < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *jobs_retry(PGconn *conn, const char *ref, const char *actor, const char *actor_role,
                   const char *reason, struct sk_err *err)
{
	return move(conn, sql_retry, ref, actor, actor_role, reason, "job.retry", "retried",
	            "dead, unknown, cancelled or expired", err);
}

json_t *jobs_cancel(PGconn *conn, const char *ref, const char *actor, const char *actor_role,
                    const char *reason, struct sk_err *err)
{
	return move(conn, sql_cancel, ref, actor, actor_role, reason, "job.cancel", "cancelled",
	            "queued, running, unknown or dead", err);
}

/* Apply one move to every dead job of a kind. */
static int move_dead(PGconn *conn, const char *kind, bool retry, const char *actor,
                     const char *reason, int *count, struct sk_err *err)
{
	*count = 0;
	const char *params[] = {kind};
	PGresult *res = db_query(
	        conn,
	        "SELECT id::text FROM public.delivery_jobs WHERE kind = $1 AND status = 'dead'"
	        " ORDER BY id FOR UPDATE",
	        1, params, err);
	if (!res)
		return -1;
	int rc = 0;
	for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
		json_t *one = retry ? jobs_retry(conn, PQgetvalue(res, r, 0), actor, "operator",
		                                 reason, err)
		                    : jobs_cancel(conn, PQgetvalue(res, r, 0), actor, "operator",
		                                  reason, err);
		if (one)
			(*count)++;
		else
			rc = -1;
		json_decref(one);
	}
	PQclear(res);
	return rc;
}

int jobs_retry_dead(PGconn *conn, const char *kind, const char *actor, const char *reason,
                    int *count, struct sk_err *err)
{
	return move_dead(conn, kind, true, actor, reason, count, err);
}

int jobs_cancel_dead(PGconn *conn, const char *kind, const char *actor, const char *reason,
                     int *count, struct sk_err *err)
{
	return move_dead(conn, kind, false, actor, reason, count, err);
}

static const char *const sql_stats =
        "SELECT json_build_object('kinds', (SELECT json_agg(s ORDER BY s.kind) FROM ("
        "  SELECT k.kind,"
        "    count(j.id) FILTER (WHERE j.status = 'queued' AND j.next_run_at <= now()) AS due,"
        "    count(j.id) FILTER (WHERE j.status = 'queued' AND j.next_run_at > now()) AS scheduled,"
        "    count(j.id) FILTER (WHERE j.status = 'running') AS running,"
        "    count(j.id) FILTER (WHERE j.status = 'succeeded') AS succeeded,"
        "    count(j.id) FILTER (WHERE j.status = 'dead') AS dead,"
        "    count(j.id) FILTER (WHERE j.status = 'unknown') AS unknown,"
        "    count(j.id) FILTER (WHERE j.status = 'cancelled') AS cancelled,"
        "    count(j.id) FILTER (WHERE j.status = 'expired') AS expired,"
        "    floor(extract(epoch FROM now() - min(j.next_run_at)"
        "          FILTER (WHERE j.status = 'queued' AND j.next_run_at <= now())))::bigint"
        "      AS oldest_due_seconds,"
        "    k.paused_until"
        "  FROM scrollkeep.job_kinds k LEFT JOIN public.delivery_jobs j ON j.kind = k.kind"
        "  GROUP BY k.kind, k.paused_until) s),"
        " 'oldest_unknown_seconds', (SELECT floor(extract(epoch FROM now() - min(updated_at)))::bigint"
        "   FROM public.delivery_jobs WHERE status = 'unknown'))";

json_t *jobs_stats(PGconn *conn, struct sk_err *err)
{
	json_t *out = one_json(conn, sql_stats, 0, NULL, err);
	if (!out && err && err->problem == PROBLEM_NONE)
		err_set(err, PROBLEM_INTERNAL, "no answer");
	return out;
}
