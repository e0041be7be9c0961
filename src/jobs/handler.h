/*
 * handler.h — what a job handler is, and the registry of handlers by kind.
 *
 * A handler runs one claimed job on its thread's own connection (session role service_role;
 * it opens its own transactions) and says how the attempt ended: succeeded, transient (retry
 * with backoff), permanent (dead at once) or provider_down (retry without spending an
 * attempt, and pause the whole kind). It fills result->provider_ref with the provider's
 * reference and result->error with a message fit for operators (it is redacted again before
 * it is stored). A handler must not assume it runs once: a job can be retried, and a worker
 * can die after the side effect and before the result is recorded (external kinds then go to
 * 'unknown' for an operator instead of being retried blindly).
 *
 * A kind whose jobs are cheaper together (each a few statements in the database) also has a
 * batch handler: a handler thread then takes as many queued jobs of that kind as its share
 * of the queue allows, and runs them at once.
 *
 * A worker claims only the kinds it has a handler for. Adding a kind is a row in
 * scrollkeep.job_kinds (a migration), a handler file, and a line in handlers.c.
 */
#ifndef SK_HANDLER_H
#define SK_HANDLER_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/config.h"
#include "jobs/queue.h"

struct job_env {
	PGconn *conn; /* the thread's connection, or NULL when the database is down */
	const struct config *cfg;
	const char *worker;
};

typedef void (*job_handler_fn)(struct job_env *env, const struct queue_job *job,
                               struct queue_result *result);

/* Runs n jobs of one kind together (in one transaction, say): results[i] is jobs[i]'s, and
 * each must say how its own job ended. */
typedef void (*job_batch_fn)(struct job_env *env, const struct queue_job *const *jobs,
                             struct queue_result *const *results, int n);

struct job_handler {
	const char *kind;
	job_handler_fn run;
	job_batch_fn run_batch; /* optional: the worker hands over up to JOB_BATCH_MAX together */
};

/* The most jobs a batch handler is given at once. */
#define JOB_BATCH_MAX 64

/* The registry, in handlers.c. */
extern const struct job_handler job_handlers[];
extern const size_t job_handler_count;

/* The handler for kind, or NULL. */
const struct job_handler *job_handler_find(const char *kind);

#endif
