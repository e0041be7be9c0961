/*
 * stripe_ingest.h — the webhook's group commit: deliveries arriving at the same moment on
 * different HTTP threads are stored in one statement and one commit.
 *
 * Every delivery must be durable before its 2xx, and a commit waits for the disk; one commit
 * per delivery would cap the webhook at the disk's flush rate and make concurrent repeats of
 * one event queue on its row lock. So a thread that brings a delivery while no batch is being
 * written writes, as the batch's leader, every delivery waiting at that moment; threads that
 * arrive meanwhile wait, and the next batch is theirs (the leader–follower group commit of
 * PostgreSQL's own WAL writer). A leader that finds only a few waiting waits up to 2 ms for
 * more (stripe_ingest.c). Each thread returns only once its delivery is committed.
 */
#ifndef SK_STRIPE_INGEST_H
#define SK_STRIPE_INGEST_H

#include "core/err.h"
#include "domain/stripe_event.h"

struct stripe_ingest;

/* An ingest with its own service_role connection to url, opened at the first batch. Returns
 * NULL on allocation failure. */
struct stripe_ingest *stripe_ingest_new(const char *url);

/* Free it once no thread can call stripe_ingest_store any more. */
void stripe_ingest_free(struct stripe_ingest *ingest);

/* Store ev (committed when this returns 0), batched with whatever else arrives meanwhile. */
int stripe_ingest_store(struct stripe_ingest *ingest, const struct stripe_event_in *ev,
                        struct stripe_stored *out, struct sk_err *err);

#endif
