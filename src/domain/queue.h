/*
 * queue.h — the delivery queue (delivery_jobs, delivery_attempts).
 *
 * Jobs are enqueued inside the caller's transaction, with the business row that needs them,
 * through scrollkeep.enqueue_job() (the same function a migration, a trigger or the site can
 * call from SQL). The same idempotency key returns the existing job.
 */
#ifndef SK_QUEUE_H
#define SK_QUEUE_H

#include <jansson.h>
#include <libpq-fe.h>

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

#endif
