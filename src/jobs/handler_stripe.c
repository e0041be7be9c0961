/*
 * handler_stripe.c — stripe_event_job: process stored Stripe events through the one
 * fulfillment path (domain/fulfill.c). A job lists the events stored together by the webhook;
 * the jobs claimed together are processed together, up to EVENTS_PER_TRANSACTION events a
 * transaction: the ledger then does each step once for all of them. The ledger's verdicts
 * are final for the job: an event for a session that is not ours, or one that does not match
 * the catalog, is marked failed on the event (for `stripe replay --failed`), not retried; only
 * a database that cannot be reached is.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/json.h"
#include "domain/fulfill.h"
#include "jobs/handler.h"
#include "jobs/handlers_common.h"

/* The stored events' row ids the payload names ({"stripe_events": [ids]}, or, from jobs
 * enqueued one per event, {"stripe_event": id}), into ids (capacity max). Returns how many, 0
 * when it names none or something else. */
static int event_rows(const struct queue_job *job, long long *ids, int max)
{
	json_error_t jerr;
	json_t *p = json_loads(job->payload ? job->payload : "{}", 0, &jerr);
	json_t *one = json_object_get(p, "stripe_event");
	json_t *many = json_object_get(p, "stripe_events");
	int n = 0;
	if (json_is_integer(one)) {
		ids[n++] = (long long)json_integer_value(one);
	} else if (json_is_array(many) && json_array_size(many) <= (size_t)max) {
		size_t i;
		json_t *v;
		json_array_foreach(many, i, v)
		{
			if (!json_is_integer(v)) {
				n = 0;
				break;
			}
			ids[n++] = (long long)json_integer_value(v);
		}
	}
	json_decref(p);
	for (int i = 0; i < n; i++)
		if (ids[i] <= 0)
			return 0;
	return n;
}

static void succeeded(struct queue_result *r, const json_t *verdict)
{
	r->outcome = JOB_SUCCEEDED;
	const char *result = json_str(verdict, "result");
	snprintf(r->provider_ref, sizeof(r->provider_ref), "%s", result ? result : "?");
}

/* Process row_ids[0..n-1] in one transaction; false (nothing kept) when that failed. On
 * success every job of results[0..njobs-1] succeeded, its reference the verdict on its first
 * event (the rest are on the events themselves). */
static bool process(PGconn *conn, const long long *row_ids, int n,
                    struct queue_result *const *results, const int *first, int njobs)
{
	/* an array of pointers */
	// NOLINTNEXTLINE(bugprone-sizeof-expression)
	json_t **verdicts = calloc((size_t)n, sizeof(json_t *));
	struct sk_err err = {0};
	bool ok = verdicts && conn && db_exec(conn, "BEGIN", 0, NULL, &err) == 0;
	if (ok && (fulfill_events(conn, row_ids, (size_t)n, false, verdicts, &err) < 0 ||
	           db_commit(conn, &err) < 0)) {
		db_rollback(conn);
		ok = false;
	}
	if (ok) {
		fulfill_wake(conn, verdicts, (size_t)n);
		for (int j = 0; j < njobs; j++)
			succeeded(results[j], verdicts[first[j]]);
		for (int i = 0; i < n; i++)
			json_decref(verdicts[i]);
	}
	free(verdicts);
	return ok;
}

/* The most events one transaction takes: a batch of jobs beyond it is processed in parts. */
enum { EVENTS_PER_TRANSACTION = 128 };

void handle_stripe_event(struct job_env *env, const struct queue_job *job, struct queue_result *r)
{
	long long ids[EVENTS_PER_TRANSACTION];
	int n = event_rows(job, ids, EVENTS_PER_TRANSACTION);
	int first = 0;
	if (n == 0)
		return job_fail(r, JOB_PERMANENT, "the payload names no stored event");
	if (process(env->conn, ids, n, &r, &first, 1))
		return;
	/* One event the job's transaction could not take must not hold back the others: each goes
	 * on its own, and the job is retried for those that still fail (the rest are then no-ops).
	 */
	bool all = n > 1;
	for (int i = 0; all && i < n; i++)
		all = process(env->conn, &ids[i], 1, &r, &first, 1);
	if (!all)
		job_fail(r, JOB_TRANSIENT,
		         env->conn ? "cannot process the events" : "the database is unavailable");
}

/* Jobs gathered into one transaction. */
struct batch {
	long long ids[EVENTS_PER_TRANSACTION];
	int nids;
	struct queue_result *outs[JOB_BATCH_MAX];
	int first[JOB_BATCH_MAX]; /* where each job's events start in ids */
	int which[JOB_BATCH_MAX]; /* each job's index in the handler's arguments */
	int njobs;
};

/* Process the batch; its jobs go on retry[] when it failed as a whole. */
static void flush(struct job_env *env, struct batch *b, bool *retry)
{
	if (b->njobs > 0 && !process(env->conn, b->ids, b->nids, b->outs, b->first, b->njobs))
		for (int j = 0; j < b->njobs; j++)
			retry[b->which[j]] = true;
	b->nids = b->njobs = 0;
}

void handle_stripe_events(struct job_env *env, const struct queue_job *const *jobs,
                          struct queue_result *const *results, int n)
{
	struct batch *b = calloc(1, sizeof(*b));
	bool retry[JOB_BATCH_MAX] = {false};
	long long mine[EVENTS_PER_TRANSACTION];
	for (int i = 0; b && i < n && i < JOB_BATCH_MAX; i++) {
		int got = event_rows(jobs[i], mine, EVENTS_PER_TRANSACTION);
		if (got == 0) {
			job_fail(results[i], JOB_PERMANENT, "the payload names no stored event");
			continue;
		}
		if (b->nids + got > EVENTS_PER_TRANSACTION)
			flush(env, b, retry);
		memcpy(b->ids + b->nids, mine, (size_t)got * sizeof(mine[0]));
		b->first[b->njobs] = b->nids;
		b->outs[b->njobs] = results[i];
		b->which[b->njobs++] = i;
		b->nids += got;
	}
	if (b)
		flush(env, b, retry);
	/* A transaction that failed as a whole: each of its jobs goes again on its own. */
	for (int i = 0; i < n && i < JOB_BATCH_MAX; i++)
		if (retry[i] || !b)
			handle_stripe_event(env, jobs[i], results[i]);
	free(b);
}
