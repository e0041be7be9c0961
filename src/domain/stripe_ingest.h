/*
 * stripe_ingest.h — the webhook's group commit: deliveries arriving at the same moment are
 * stored in one statement and one commit, by writer threads of the ingest's own.
 *
 * Every delivery must be durable before its 2xx, and a commit waits for the disk; one commit
 * per delivery would cap the webhook at the disk's flush rate and make concurrent repeats of
 * one event queue on its row lock. So the HTTP thread that verified a delivery hands it to
 * the ingest and parks its request (http_defer) instead of waiting: it goes on reading other
 * requests, which lets a few threads bring many deliveries together. A writer takes every
 * delivery queued at that moment as one batch; one that finds only a few waits up to 2 ms
 * for more. Two writers, each with its own connection, so that while one batch waits for
 * its commit the next is already on its way. Each delivery is completed (its done callback
 * called) once its batch is committed or has failed.
 */
#ifndef SK_STRIPE_INGEST_H
#define SK_STRIPE_INGEST_H

#include "core/err.h"
#include "domain/stripe_event.h"

struct stripe_ingest;

/* One delivery on its way into the store. The caller fills ev and done, hands it to
 * stripe_ingest_submit and leaves it alone until done(d) is called: once, on one of the
 * ingest's threads (or on the caller's, when the ingest is stopping), with rc 0 and out
 * filled once the delivery is committed, or rc -1 and err saying why. */
struct stripe_delivery {
	struct stripe_event_in ev;
	void (*done)(struct stripe_delivery *d);
	int rc;
	struct stripe_stored out;
	struct sk_err err;
	/* the ingest's own */
	long long queued_us; /* when it arrived (CLOCK_MONOTONIC) */
	struct stripe_delivery *next;
};

/* An ingest whose writers store into url as service_role, each connecting at its first batch.
 * Starts the writer threads. Returns NULL when they or its memory cannot be had. */
struct stripe_ingest *stripe_ingest_new(const char *url);

/* Queue d to be stored with whatever else arrives meanwhile. */
void stripe_ingest_submit(struct stripe_ingest *ingest, struct stripe_delivery *d);

/* Store what is queued, complete it and stop the writers; from then on a delivery submitted
 * is completed at once, with PROBLEM_UNAVAILABLE. */
void stripe_ingest_stop(struct stripe_ingest *ingest);

/* Stop it (when that was not done) and free it, once no thread can submit any more. */
void stripe_ingest_free(struct stripe_ingest *ingest);

#endif
