/*
 * stripe_ingest.c — the webhook's group commit (see stripe_ingest.h).
 *
 * Written here rather than taken from a library: it is a mutex, a condition variable and a
 * queue around stripe_event_store, and no pooling library batches statements across
 * threads.
 */
#include "stripe_ingest.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/db.h"

/* A batch stops growing at this many deliveries or bytes of payload (Stripe's events are a
 * few KiB; the bound keeps one statement's parameter modest). Two batches may be written at
 * once, on two connections: while one waits for its commit, the next is already on its way
 * (repeats of one event then queue on its row lock, in event-id order, so never deadlock). */
enum { BATCH_MAX = 128, BATCH_BYTES_MAX = 4 << 20, LANES = 2 };

/* A free lane with fewer than GATHER deliveries queued waits for more, up to GATHER_US after
 * the oldest arrived: each batch is a statement, a commit, a job and a wake-up whatever its
 * size, so batches of a few deliveries spent the machine on those instead of the events. */
enum { GATHER = 16, GATHER_US = 2000 };

struct waiter {
	const struct stripe_event_in *ev;
	struct stripe_stored *out;
	struct sk_err err;
	int rc;
	bool done;
	long long queued_us; /* when it arrived (CLOCK_MONOTONIC) */
	struct waiter *next;
};

struct stripe_ingest {
	char *url;
	PGconn *conns[LANES]; /* conns[i] used only by the thread writing a batch in lane i */
	pthread_mutex_t lock;
	pthread_cond_t written;
	struct waiter *head, *tail; /* deliveries waiting for the next batch */
	int queued;                 /* how many */
	bool busy[LANES];           /* a leader is writing a batch in this lane */
};

struct stripe_ingest *stripe_ingest_new(const char *url)
{
	struct stripe_ingest *ingest = calloc(1, sizeof(*ingest));
	if (!ingest)
		return NULL;
	ingest->url = url ? strdup(url) : NULL;
	if (!ingest->url) {
		free(ingest);
		return NULL;
	}
	pthread_mutex_init(&ingest->lock, NULL);
	pthread_cond_init(&ingest->written, NULL);
	return ingest;
}

void stripe_ingest_free(struct stripe_ingest *ingest)
{
	if (!ingest)
		return;
	for (int i = 0; i < LANES; i++)
		if (ingest->conns[i])
			PQfinish(ingest->conns[i]);
	pthread_cond_destroy(&ingest->written);
	pthread_mutex_destroy(&ingest->lock);
	free(ingest->url);
	free(ingest);
}

/* Take the next batch off the queue (the lock held). */
static struct waiter *take_batch(struct stripe_ingest *ingest)
{
	struct waiter *batch = ingest->head, *last = batch;
	size_t n = 1, bytes = batch->ev->len;
	while (last->next && n < BATCH_MAX && bytes + last->next->ev->len <= BATCH_BYTES_MAX) {
		last = last->next;
		bytes += last->ev->len;
		n++;
	}
	ingest->queued -= (int)n;
	ingest->head = last->next;
	if (!ingest->head)
		ingest->tail = NULL;
	last->next = NULL;
	return batch;
}

/* Store the deliveries of batch (at most BATCH_MAX) in one statement on *conn, connecting
 * first when it is closed, and fill each one's out. */
static int store(PGconn **conn, const char *url, struct waiter *batch, struct sk_err *err)
{
	const struct stripe_event_in *evs[BATCH_MAX];
	struct stripe_stored outs[BATCH_MAX];
	size_t n = 0;
	for (struct waiter *w = batch; w; w = w->next)
		evs[n++] = w->ev;
	if (!*conn) {
		struct db_options opt = {.app_name = "scrollkeep-webhook",
		                         .statement_timeout_ms = 15000};
		*conn = db_connect_as(url, &opt, DB_ROLE_SERVICE, err);
		if (!*conn)
			return -1;
		if (stripe_event_prepare(*conn, err) < 0) {
			PQfinish(*conn);
			*conn = NULL;
			return -1;
		}
	}
	int rc = stripe_event_store(*conn, evs, n, outs, err);
	if (rc < 0 && PQstatus(*conn) != CONNECTION_OK) {
		PQfinish(*conn); /* the next batch reconnects */
		*conn = NULL;
	}
	if (rc == 0) {
		n = 0;
		for (struct waiter *w = batch; w; w = w->next)
			*w->out = outs[n++];
	}
	return rc;
}

/* Write batch as its leader (the lock not held). When the batch fails as a whole while the
 * database is still there, one bad event must not fail the deliveries it came with: each is
 * stored again on its own. */
static void write_batch(PGconn **conn, const char *url, struct waiter *batch)
{
	struct sk_err err = {0};
	int rc = store(conn, url, batch, &err);
	if (rc < 0 && batch->next && *conn) {
		for (struct waiter *w = batch, *next; w; w = next) {
			next = w->next;
			w->next = NULL;
			w->rc = store(conn, url, w, &w->err);
			w->next = next;
		}
		return;
	}
	for (struct waiter *w = batch; w; w = w->next) {
		w->rc = rc;
		if (rc < 0)
			w->err = err;
	}
}

/* Whether the queue should wait for more before a free lane takes it (the lock held); if so,
 * *until is when to look again. */
static bool gathering(const struct stripe_ingest *ingest, struct timespec *until)
{
	long long left = GATHER_US - (clock_us() - ingest->head->queued_us);
	if (ingest->queued >= GATHER || left <= 0)
		return false;
	*until = clock_deadline_us(left);
	return true;
}

int stripe_ingest_store(struct stripe_ingest *ingest, const struct stripe_event_in *ev,
                        struct stripe_stored *out, struct sk_err *err)
{
	struct waiter me = {.ev = ev, .out = out, .queued_us = clock_us()};
	pthread_mutex_lock(&ingest->lock);
	/* me lives on this stack while queued: it leaves the queue (take_batch) and is marked
	 * done before this function returns, so no pointer to it outlives the call. */
	if (ingest->tail)
		ingest->tail->next = &me;
	else
		ingest->head = &me; // cppcheck-suppress autoVariables
	ingest->tail = &me;         // cppcheck-suppress autoVariables
	ingest->queued++;
	while (!me.done) {
		int lane = 0;
		while (lane < LANES && ingest->busy[lane])
			lane++;
		if (!ingest->head || lane == LANES) { /* mine is being written, or must wait */
			pthread_cond_wait(&ingest->written, &ingest->lock);
			continue;
		}
		struct timespec until;
		if (gathering(ingest, &until)) {
			pthread_cond_timedwait(&ingest->written, &ingest->lock, &until);
			continue;
		}
		ingest->busy[lane] = true;
		struct waiter *batch = take_batch(ingest);
		pthread_mutex_unlock(&ingest->lock);
		write_batch(&ingest->conns[lane], ingest->url, batch);
		pthread_mutex_lock(&ingest->lock);
		for (struct waiter *w = batch, *next; w; w = next) {
			next = w->next; /* w belongs to its thread again once done is set */
			w->done = true;
		}
		ingest->busy[lane] = false;
		pthread_cond_broadcast(&ingest->written);
	}
	pthread_mutex_unlock(&ingest->lock);
	if (me.rc < 0 && err)
		*err = me.err;
	return me.rc;
}
