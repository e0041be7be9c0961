/*
 * queue.c — the queue's statements (see queue.h). Batches travel as arrays (unnest), so a
 * claim, a finish or a heartbeat of a hundred jobs is one statement and one commit.
 */
#include "queue.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/db.h"

/* The engine's statements run one per round trip, each its own transaction, on a connection
 * whose session role is service_role (db_connect_as). */
static PGresult *run_tx(PGconn *conn, const char *sql, int n, const char *const *params,
                        struct sk_err *err)
{
	return db_query(conn, sql, n, params, err);
}

/* The hot statements, prepared by queue_prepare (sql_* are defined below). */
static const char *const sql_claim, *const sql_finish, *const sql_extend;

/* ---- enqueue ---- */

static const char *const sql_enqueue =
        "SELECT scrollkeep.enqueue_job($1, $2::jsonb, $3, coalesce($4::timestamptz, now()))";

/* A separate statement: one that both inserted and read the job would not see it (its
 * snapshot is taken before the insert). */
static const char *const sql_job_ref =
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
	res = db_query(conn, sql_job_ref, 1, job_params, err);
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

int queue_wake(PGconn *conn, const char *kind, struct sk_err *err)
{
	const char *params[] = {kind};
	return db_exec(conn,
	               "SELECT set_config('synchronous_commit', 'off', true),"
	               "       pg_notify('scrollkeep_jobs', $1)",
	               1, params, err);
}

/* ---- claim ---- */

/* The due ids come as an array so that the update finds each row by its primary key (a join
 * with a CTE would hash the whole table). They are each kind's first due jobs (LATERAL, on
 * the index delivery_jobs_due, by kind), then the first of all in claim order: a backlog of a
 * kind this worker does not run is never read. Each kind locks at most $3 rows, SKIP LOCKED,
 * so that concurrent workers take different jobs; rows locked and not taken are free again
 * when the statement commits. updated_at is set here, so the trigger that keeps it true for
 * other writers does not run. */
static const char *const sql_claim =
        "UPDATE public.delivery_jobs j"
        "   SET status = 'running', attempts = j.attempts + 1, runs = j.runs + 1,"
        "       lease_owner = $1, lease_token = gen_random_uuid(), leased_at = now(),"
        "       lease_expires_at = now() + make_interval(secs => k.lease_seconds), updated_at = now()"
        "  FROM scrollkeep.job_kinds k"
        " WHERE j.id = ANY(ARRAY("
        "         SELECT d.id FROM scrollkeep.job_kinds p"
        "          CROSS JOIN LATERAL ("
        "            SELECT c.id, c.priority, c.next_run_at FROM public.delivery_jobs c"
        "             WHERE c.kind = p.kind AND c.status = 'queued' AND c.next_run_at <= now()"
        "               AND (c.deliver_by IS NULL OR c.deliver_by > now())"
        "             ORDER BY c.priority DESC, c.next_run_at, c.id"
        "             LIMIT $3"
        "             FOR UPDATE SKIP LOCKED) d"
        "          WHERE p.kind = ANY($2::text[]) AND (p.paused_until IS NULL OR p.paused_until <= now())"
        "          ORDER BY d.priority DESC, d.next_run_at, d.id"
        "          LIMIT $3))"
        "   AND k.kind = j.kind"
        " RETURNING j.id, j.kind, j.payload::text, j.runs, j.attempts, j.max_attempts,"
        "           j.lease_token, j.support_ref, coalesce(j.user_id::text, ''),"
        "           k.side_effect = 'external', k.lease_seconds";

void queue_job_clear(struct queue_job *job)
{
	free(job->payload);
	job->payload = NULL;
}

int queue_claim(PGconn *conn, const char *worker, const char *kinds, int max,
                struct queue_job *jobs, int *n, struct sk_err *err)
{
	*n = 0;
	char limit[16];
	snprintf(limit, sizeof(limit), "%d", max);
	const char *params[] = {worker, kinds, limit};
	PGresult *res = db_query_prepared(conn, "sk_claim", 3, params, err);
	if (!res)
		return -1;
	int rows = PQntuples(res);
	for (int r = 0; r < rows && r < max; r++) {
		struct queue_job *j = &jobs[r];
		memset(j, 0, sizeof(*j));
		j->id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		snprintf(j->kind, sizeof(j->kind), "%s", PQgetvalue(res, r, 1));
		j->payload = strdup(PQgetvalue(res, r, 2));
		j->run = atoi(PQgetvalue(res, r, 3));
		j->attempt = atoi(PQgetvalue(res, r, 4));
		j->max_attempts = atoi(PQgetvalue(res, r, 5));
		snprintf(j->lease_token, sizeof(j->lease_token), "%s", PQgetvalue(res, r, 6));
		snprintf(j->support_ref, sizeof(j->support_ref), "%s", PQgetvalue(res, r, 7));
		snprintf(j->user_id, sizeof(j->user_id), "%s", PQgetvalue(res, r, 8));
		j->external = strcmp(PQgetvalue(res, r, 9), "t") == 0;
		j->lease_seconds = atoi(PQgetvalue(res, r, 10));
		(*n)++;
	}
	PQclear(res);
	return 0;
}

/* ---- finish ---- */

const char *job_outcome_name(enum job_outcome outcome)
{
	switch (outcome) {
	case JOB_SUCCEEDED:
		return "succeeded";
	case JOB_TRANSIENT:
		return "transient";
	case JOB_PERMANENT:
		return "permanent";
	case JOB_PROVIDER_DOWN:
		return "provider_down";
	case JOB_RELEASED:
		return "released";
	case JOB_CANCELLED:
		return "cancelled";
	}
	return "transient";
}

/* Every outcome in one statement. cur holds the results whose lease still holds (locked);
 * upd moves each job on; att records the attempt (a released job never started, so it has
 * none); pause backs off a kind whose provider is down. */
static const char *const sql_finish =
        "WITH input AS ("
        "  SELECT * FROM unnest($2::bigint[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::int[])"
        "           AS t(id, token, outcome, provider_ref, error, pause_s)),"
        /* One primary-key look-up per result (LATERAL), whatever the estimates. Status and token
         * are checked after it, behind an OFFSET 0 fence: pushed into the look-up, they make the
         * planner take the small-looking partial index of running jobs and scan it for every
         * result. */
        " cur AS ("
        "  SELECT j.id, j.kind, j.attempts, j.max_attempts, j.runs, j.leased_at, j.support_ref,"
        "         i.outcome, nullif(i.provider_ref, '') AS provider_ref, nullif(i.error, '') AS error,"
        "         i.pause_s"
        "    FROM input i CROSS JOIN LATERAL ("
        "      SELECT * FROM public.delivery_jobs d WHERE d.id = i.id OFFSET 0 FOR UPDATE) j"
        "   WHERE j.status = 'running' AND j.lease_token = i.token),"
        " upd AS ("
        "  UPDATE public.delivery_jobs j SET"
        "    status = CASE"
        "      WHEN c.outcome = 'succeeded' THEN 'succeeded'"
        "      WHEN c.outcome = 'permanent' THEN 'dead'"
        "      WHEN c.outcome = 'cancelled' THEN 'cancelled'"
        "      WHEN c.outcome = 'transient' AND c.attempts >= c.max_attempts THEN 'dead'"
        "      ELSE 'queued' END,"
        "    attempts = CASE WHEN c.outcome IN ('provider_down', 'released') THEN c.attempts - 1"
        "                    ELSE c.attempts END,"
        "    runs = CASE WHEN c.outcome = 'released' THEN c.runs - 1 ELSE c.runs END,"
        "    next_run_at = CASE c.outcome"
        "      WHEN 'transient' THEN now() + scrollkeep.retry_delay(c.attempts)"
        "      WHEN 'provider_down' THEN now() + make_interval(secs => c.pause_s)"
        "      ELSE j.next_run_at END,"
        "    finished_at = CASE WHEN c.outcome IN ('succeeded', 'permanent', 'cancelled')"
        "                         OR (c.outcome = 'transient' AND c.attempts >= c.max_attempts)"
        "                       THEN now() END,"
        "    last_error = CASE WHEN c.outcome IN ('succeeded', 'released') THEN j.last_error"
        "                      ELSE c.error END,"
        "    lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, leased_at = NULL,"
        "    updated_at = now()"
        "    FROM cur c WHERE j.id = c.id"
        "    RETURNING j.id),"
        " att AS ("
        "  INSERT INTO public.delivery_attempts (job_id, attempt, worker, started_at, finished_at,"
        "                                        outcome, provider_ref, error, kind, support_ref)"
        "  SELECT c.id, c.runs, $1, c.leased_at, now(), c.outcome, c.provider_ref, c.error, c.kind,"
        "         c.support_ref FROM cur c WHERE c.outcome <> 'released'),"
        " pause AS ("
        "  UPDATE scrollkeep.job_kinds k"
        "     SET paused_until = greatest(coalesce(k.paused_until, now()), now() + make_interval(secs => m.pause_s)),"
        "         pause_reason = 'provider down'"
        "    FROM (SELECT kind, max(pause_s) AS pause_s FROM cur WHERE outcome = 'provider_down'"
        "           GROUP BY kind) m"
        "   WHERE k.kind = m.kind)"
        "SELECT count(*) FROM upd";

/* Append one PostgreSQL array element, quoted. */
static void array_item(struct buf *b, const char *value)
{
	buf_puts(b, b->len > 1 ? ",\"" : "\"");
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_append(b, "\\", 1);
		buf_append(b, p, 1);
	}
	buf_puts(b, "\"");
}

int queue_finish(PGconn *conn, const char *worker, const struct queue_result *results, int n,
                 int *applied, struct sk_err *err)
{
	*applied = 0;
	if (n == 0)
		return 0;
	struct buf ids = {0}, tokens = {0}, outcomes = {0}, refs = {0}, errors = {0}, pauses = {0};
	struct buf *all[] = {&ids, &tokens, &outcomes, &refs, &errors, &pauses};
	for (size_t i = 0; i < 6; i++)
		buf_puts(all[i], "{");
	for (int i = 0; i < n; i++) {
		const struct queue_result *r = &results[i];
		char num[24], error[501];
		snprintf(num, sizeof(num), "%lld", r->id);
		array_item(&ids, num);
		array_item(&tokens, r->lease_token);
		array_item(&outcomes, job_outcome_name(r->outcome));
		array_item(&refs, r->provider_ref);
		queue_redact(r->error, error, sizeof(error));
		array_item(&errors, error);
		snprintf(num, sizeof(num), "%d", r->pause_seconds > 0 ? r->pause_seconds : 60);
		array_item(&pauses, num);
	}
	int rc = -1;
	for (size_t i = 0; i < 6; i++)
		buf_puts(all[i], "}");
	for (size_t i = 0; i < 6; i++)
		if (buf_failed(all[i])) {
			err_set(err, PROBLEM_INTERNAL, "out of memory");
			goto out;
		}
	const char *params[] = {worker,    ids.data,    tokens.data, outcomes.data,
	                        refs.data, errors.data, pauses.data};
	PGresult *res = db_query_prepared(conn, "sk_finish", 7, params, err);
	if (!res)
		goto out;
	*applied = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	rc = 0;
out:
	for (size_t i = 0; i < 6; i++)
		buf_free(all[i]);
	return rc;
}

const char *queue_statement(const char *name)
{
	if (strcmp(name, "claim") == 0)
		return sql_claim;
	if (strcmp(name, "finish") == 0)
		return sql_finish;
	return NULL;
}

/* ---- heartbeat ---- */

static const char *const sql_extend =
        "UPDATE public.delivery_jobs j"
        "   SET lease_expires_at = now() + make_interval(secs => k.lease_seconds), updated_at = now()"
        "  FROM unnest($1::bigint[], $2::uuid[]) AS t(id, token), scrollkeep.job_kinds k"
        " WHERE j.id = t.id AND j.lease_token = t.token AND j.status = 'running' AND k.kind = j.kind";

int queue_extend(PGconn *conn, const long long *ids, char (*tokens)[37], int n, int *extended,
                 struct sk_err *err)
{
	*extended = 0;
	if (n == 0)
		return 0;
	struct buf a = {0}, b = {0};
	buf_puts(&a, "{");
	buf_puts(&b, "{");
	for (int i = 0; i < n; i++) {
		char num[24];
		snprintf(num, sizeof(num), "%lld", ids[i]);
		array_item(&a, num);
		array_item(&b, tokens[i]);
	}
	buf_puts(&a, "}");
	buf_puts(&b, "}");
	int rc = -1;
	if (buf_failed(&a) || buf_failed(&b)) {
		err_set(err, PROBLEM_INTERNAL, "out of memory");
	} else {
		const char *params[] = {a.data, b.data};
		PGresult *res = db_query_prepared(conn, "sk_extend", 2, params, err);
		if (res) {
			*extended = atoi(PQcmdTuples(res));
			PQclear(res);
			rc = 0;
		}
	}
	buf_free(&a);
	buf_free(&b);
	return rc;
}

/* ---- reaper ---- */

static const char *const sql_reap =
        "WITH expired AS ("
        "  SELECT j.id, j.kind, j.runs, j.attempts, j.max_attempts, j.leased_at, j.lease_owner,"
        "         j.support_ref, k.side_effect"
        "    FROM public.delivery_jobs j JOIN scrollkeep.job_kinds k ON k.kind = j.kind"
        "   WHERE j.status = 'running' AND j.lease_expires_at < now()"
        "   FOR UPDATE OF j SKIP LOCKED),"
        " att AS ("
        "  INSERT INTO public.delivery_attempts (job_id, attempt, worker, started_at, finished_at,"
        "                                        outcome, error, kind, support_ref)"
        "  SELECT id, runs, lease_owner, leased_at, now(), 'lease_expired',"
        "         'the worker''s lease expired (it stopped or stalled)', kind, support_ref FROM expired)"
        "UPDATE public.delivery_jobs j SET"
        "  status = CASE WHEN e.side_effect = 'external' THEN 'unknown'"
        "                WHEN e.attempts >= e.max_attempts THEN 'dead' ELSE 'queued' END,"
        "  next_run_at = CASE WHEN e.side_effect = 'idempotent'"
        "                     THEN now() + scrollkeep.retry_delay(e.attempts) ELSE j.next_run_at END,"
        "  finished_at = CASE WHEN e.side_effect = 'idempotent' AND e.attempts >= e.max_attempts"
        "                     THEN now() END,"
        "  last_error = CASE WHEN e.side_effect = 'external'"
        "                    THEN 'lease expired after the side effect may have happened: reconcile or decide'"
        "                    ELSE 'lease expired: the worker stopped or stalled' END,"
        "  lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, leased_at = NULL"
        "  FROM expired e WHERE j.id = e.id";

static const char *const sql_expire =
        "UPDATE public.delivery_jobs SET status = 'expired', finished_at = now(),"
        "       last_error = 'the deadline passed before it could run'"
        " WHERE status = 'queued' AND deliver_by <= now()";

int queue_reap(PGconn *conn, int *reaped, int *expired, struct sk_err *err)
{
	*reaped = *expired = 0;
	PGresult *res = run_tx(conn, sql_reap, 0, NULL, err);
	if (!res)
		return -1;
	*reaped = atoi(PQcmdTuples(res));
	PQclear(res);
	res = run_tx(conn, sql_expire, 0, NULL, err);
	if (!res)
		return -1;
	*expired = atoi(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

/* ---- retention ---- */

static const char *const sql_prune_jobs =
        "DELETE FROM public.delivery_jobs WHERE id IN ("
        "  SELECT id FROM public.delivery_jobs"
        "   WHERE status IN ('succeeded', 'cancelled', 'expired')"
        "     AND finished_at < now() - make_interval(days => $1::int) LIMIT $2)";

static const char *const sql_prune_attempts =
        "DELETE FROM public.delivery_attempts WHERE id IN ("
        "  SELECT id FROM public.delivery_attempts"
        "   WHERE job_id IS NULL AND finished_at < now() - make_interval(days => $1::int) LIMIT $2)";

int queue_prune(PGconn *conn, int job_days, int attempt_days, int limit, int *jobs, int *attempts,
                struct sk_err *err)
{
	char jd[16], ad[16], lim[16];
	snprintf(jd, sizeof(jd), "%d", job_days);
	snprintf(ad, sizeof(ad), "%d", attempt_days);
	snprintf(lim, sizeof(lim), "%d", limit);
	const char *p1[] = {jd, lim};
	PGresult *res = run_tx(conn, sql_prune_jobs, 2, p1, err);
	if (!res)
		return -1;
	*jobs = atoi(PQcmdTuples(res));
	PQclear(res);
	const char *p2[] = {ad, lim};
	res = run_tx(conn, sql_prune_attempts, 2, p2, err);
	if (!res)
		return -1;
	*attempts = atoi(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

/* ---- redaction ---- */

static bool email_char(char c)
{
	return isalnum((unsigned char)c) || strchr("._%+-", c) != NULL;
}

void queue_redact(const char *in, char *out, size_t out_len)
{
	static const char mark[] = "[redacted]";
	size_t o = 0, chars = 0, n = in ? strlen(in) : 0;
	for (size_t i = 0; i < n && o + 1 < out_len && chars < 500;) {
		unsigned char c = (unsigned char)in[i];
		if (c == '@') {
			/* Take back the local part already copied, skip the domain. */
			while (o > 0 && email_char(out[o - 1]))
				o--;
			i++;
			while (i < n && (email_char(in[i]) || in[i] == '-'))
				i++;
			size_t m = sizeof(mark) - 1;
			if (o + m + 1 > out_len)
				break;
			memcpy(out + o, mark, m);
			o += m;
			chars += m;
			continue;
		}
		if (c < 0x20 || c == 0x7F) {
			out[o++] = ' ';
		} else {
			out[o++] = (char)c;
		}
		if ((c & 0xC0) != 0x80)
			chars++;
		i++;
	}
	/* Do not leave half a UTF-8 character at the cut: find the last lead byte and drop its
	 * sequence if it is incomplete. */
	size_t lead = o;
	while (lead > 0 && ((unsigned char)out[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead > 0) {
		unsigned char c = (unsigned char)out[lead - 1];
		size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		if (o - (lead - 1) < need)
			o = lead - 1;
	}
	out[o] = '\0';
}

/* The queue's statements are written for their indexes, and the queue's connections plan
 * them so whatever the table's statistics say (enable_seqscan = off makes a sequential scan
 * the planner's last resort, not a forbidden one). delivery_jobs grows by orders of
 * magnitude between two analyzes (a burst of purchases after a quiet night, a fresh
 * database), and a generic plan made while it was small scanned it whole twice in every
 * claim: 21,000 rows, 5 - 25 ms a claim, an eighth of the machine in the webhook's
 * benchmark. Planning every claim afresh (plan_cache_mode = force_custom_plan) cured that
 * too, but then a quarter of the dispatcher's time went to the planner. */
int queue_prepare(PGconn *conn, struct sk_err *err)
{
	if (db_exec(conn, "SELECT set_config('enable_seqscan', 'off', false)", 0, NULL, err) < 0 ||
	    db_prepare(conn, "sk_claim", sql_claim, 3, err) < 0 ||
	    db_prepare(conn, "sk_finish", sql_finish, 7, err) < 0 ||
	    db_prepare(conn, "sk_extend", sql_extend, 2, err) < 0)
		return -1;
	return 0;
}
