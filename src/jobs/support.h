/*
 * support.h — the support path for deliveries: find any job by id or by the support
 * reference a person quotes (SK-XXXX-XXXX), see every attempt, and retry or cancel with an
 * audited reason. Shared by `scrollkeep jobs` and the /v1/admin/jobs routes.
 *
 * Each function runs in the caller's transaction, as service_role.
 */
#ifndef SK_SUPPORT_H
#define SK_SUPPORT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "core/err.h"

struct jobs_filter {
	const char *kind;
	const char *status;
	const char *user_id;
	const char *support_ref;
	long older_than_s; /* 0: any age */
	int limit;         /* 1..1000 */
};

/* The retry route's body: {"reason": 1..500 chars, "actor"?: 1..80 chars}. */
int jobs_retry_validate(const json_t *body, struct sk_err *err);

/* Whether text names a job: digits (an id) or SK-XXXX-XXXX (a support reference). */
bool jobs_ref_valid(const char *text);

/* {"jobs": [...]} newest first. PROBLEM_INVALID_BODY for a bad filter value. */
json_t *jobs_list(PGconn *conn, const struct jobs_filter *f, struct sk_err *err);

/* {"job": {...} | null, "attempts": [...]}: the job (null once pruned) and every attempt.
 * PROBLEM_NOT_FOUND when neither exists. */
json_t *jobs_show(PGconn *conn, const char *ref, struct sk_err *err);

/* Retry one job (dead, unknown, cancelled or expired): back to queued now, with a fresh set of
 * attempts (and its deadline cleared if it has passed), audited with actor and reason.
 * Returns {"id", "support_ref", "kind", "from", "status"}; PROBLEM_NOT_FOUND or
 * PROBLEM_CONFLICT (a job in another state). */
json_t *jobs_retry(PGconn *conn, const char *ref, const char *actor, const char *actor_role,
                   const char *reason, struct sk_err *err);

/* Cancel one job (queued, running, unknown or dead), audited. Same answer shape. */
json_t *jobs_cancel(PGconn *conn, const char *ref, const char *actor, const char *actor_role,
                    const char *reason, struct sk_err *err);

/* Retry or cancel every dead job of a kind, one audit event each. *count gets how many. */
int jobs_retry_dead(PGconn *conn, const char *kind, const char *actor, const char *reason,
                    int *count, struct sk_err *err);
int jobs_cancel_dead(PGconn *conn, const char *kind, const char *actor, const char *reason,
                     int *count, struct sk_err *err);

/* {"kinds": [{kind, due, scheduled, running, succeeded, dead, unknown, cancelled, expired,
 * oldest_due_seconds, paused_until}], "oldest_unknown_seconds"} */
json_t *jobs_stats(PGconn *conn, struct sk_err *err);

#endif
