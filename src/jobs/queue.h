/*
 * queue.h — the delivery queue (delivery_jobs, delivery_attempts): every statement the
 * engine runs, each one a single round trip over many jobs.
 *
 * Jobs are enqueued inside the caller's transaction, with the business row that needs them,
 * through scrollkeep.enqueue_job() (the same function a migration, a trigger or the site can
 * call from SQL). A claim takes due jobs with FOR UPDATE SKIP LOCKED and gives each a fresh
 * lease_token; every later change — finish, extend, release — is guarded by
 * status = 'running' AND lease_token = $token, so a job rescued from a slow worker can never
 * be overwritten by it. The reaper returns expired leases: idempotent kinds to 'queued' with
 * backoff, kinds whose side effect may already have happened to 'unknown'.
 *
 * Except queue_enqueue (which joins the caller's transaction), each function is one
 * statement in its own transaction, on a connection whose session role is service_role
 * (db_connect_as): the worker is a service-only process.
 */
#ifndef SK_QUEUE_H
#define SK_QUEUE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "core/err.h"

struct queue_job_ref {
	long long id;
	char support_ref[16];
	char status[16];
};

/* Enqueue kind with payload (ids only) in the caller's transaction, which must run as
 * service_role. idempotency_key and run_at (RFC 3339, or NULL for now) are optional.
 * Fills *job (may be NULL). */
int queue_enqueue(PGconn *conn, const char *kind, const json_t *payload,
                  const char *idempotency_key, const char *run_at, struct queue_job_ref *job,
                  struct sk_err *err);

/* Wake idle workers for kind (for jobs enqueued without a wake-up, and committed), outside any
 * transaction and without waiting for the disk (see scrollkeep.enqueue_jobs in migration 015:
 * a notification inside a business transaction makes its commit queue behind every other
 * notifying commit). A lost wake-up costs the workers' poll interval, never a job. */
int queue_wake(PGconn *conn, const char *kind, struct sk_err *err);

/* A claimed job, as a handler sees it. */
struct queue_job {
	long long id;
	char kind[64];
	char *payload; /* JSON text, malloc()ed; freed by queue_job_clear() */
	int run;       /* this run's number (the attempt row's) */
	int attempt;   /* attempts spent, this one included */
	int max_attempts;
	char lease_token[37];
	char support_ref[16];
	char user_id[37]; /* empty when the job is for nobody in particular */
	bool external;    /* its side effect may reach the outside world */
	int lease_seconds;
};

void queue_job_clear(struct queue_job *job);

/* Prepare the claim, finish and extend statements on conn, and have conn plan them by their
 * indexes even while the table's statistics say it is small (enable_seqscan = off); call
 * once after connecting and before queue_claim, queue_finish or queue_extend. */
int queue_prepare(PGconn *conn, struct sk_err *err);

/* Claim up to max due jobs of the kinds in kinds (a PostgreSQL text[] literal) for worker,
 * skipping jobs other workers hold, paused kinds and jobs past their deadline. Fills jobs
 * (capacity max) and *n. */
int queue_claim(PGconn *conn, const char *worker, const char *kinds, int max,
                struct queue_job *jobs, int *n, struct sk_err *err);

/* How an attempt ended. */
enum job_outcome {
	JOB_SUCCEEDED,     /* done */
	JOB_TRANSIENT,     /* retry with backoff; dead once max_attempts are spent */
	JOB_PERMANENT,     /* dead at once */
	JOB_PROVIDER_DOWN, /* retry later without spending an attempt; pause the whole kind */
	JOB_RELEASED,      /* never started (a worker stopping): back to queued, nothing spent */
	JOB_CANCELLED,     /* must not happen any more (its consent was withdrawn): cancelled */
};

const char *job_outcome_name(enum job_outcome outcome);

struct queue_result {
	long long id;
	char lease_token[37];
	enum job_outcome outcome;
	char provider_ref[201]; /* e.g. the SMTP reply or a Stripe id */
	char error[501];        /* redacted (queue_redact) before it is stored */
	int pause_seconds;      /* JOB_PROVIDER_DOWN: how long to pause the kind (default 60) */
};

/* The text of the worker's own statements, "claim" ($1 worker, $2 kinds as text[], $3 the most
 * jobs) and "finish" ($1 worker, then the results as parallel arrays: ids, lease tokens,
 * outcomes, provider references, errors, pause seconds), for the benchmark that runs them under
 * pgbench (bench/ceiling.mjs); NULL for another name. */
const char *queue_statement(const char *name);

/* Record n finished attempts (one statement): the job's new state and an attempt row each.
 * Results whose lease no longer holds change nothing; *applied counts those that did. */
int queue_finish(PGconn *conn, const char *worker, const struct queue_result *results, int n,
                 int *applied, struct sk_err *err);

/* Extend the leases of n running jobs (heartbeat). *extended counts those still held. */
int queue_extend(PGconn *conn, const long long *ids, char (*tokens)[37], int n, int *extended,
                 struct sk_err *err);

/* Return expired leases by the rules above, and expire queued jobs past their deadline. */
int queue_reap(PGconn *conn, int *reaped, int *expired, struct sk_err *err);

/* Delete finished jobs older than job_days (succeeded, cancelled, expired) and attempts of
 * deleted jobs older than attempt_days, at most limit of each. */
int queue_prune(PGconn *conn, int job_days, int attempt_days, int limit, int *jobs, int *attempts,
                struct sk_err *err);

/* Copy an error into out (capacity out_len, at most 500 characters) with anything that looks
 * like an e-mail address replaced and control characters removed: stored errors are shown to
 * operators and must not carry personal data. */
void queue_redact(const char *in, char *out, size_t out_len);

#endif
