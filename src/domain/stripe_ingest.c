/*
 * stripe_ingest.c — the webhook's group commit (see stripe_ingest.h).
 *
 * Written here rather than taken from a library: it is a queue, a mutex, a condition
 * variable and two threads around stripe_event_store, and no pooling library batches
 * statements across requests.
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
 * once, on two connections (repeats of one event then queue on its row lock, in event-id
 * order, so never deadlock). */
enum { BATCH_MAX = 128, BATCH_BYTES_MAX = 4 << 20, LANES = 2 };

/* A free writer with fewer than GATHER deliveries queued waits for more, up to GATHER_US
 * after the oldest arrived: each batch is a statement, a commit, a job and a wake-up whatever
 * its size, so batches of a few deliveries spent the machine on those instead of the events. */
enum { GATHER = 16, GATHER_US = 2000 };

struct lane {
	struct stripe_ingest *ingest;
	PGconn *conn; /* used by this lane's thread only */
	pthread_t thread;
};

struct stripe_ingest {
	char *url;
	pthread_mutex_t lock;
	pthread_cond_t arrived;              /* a delivery was queued, or the ingest stops */
	struct stripe_delivery *head, *tail; /* deliveries waiting for a batch */
	int queued;                          /* how many */
	bool stopping;
	int running; /* lanes whose thread was started and not joined */
	struct lane lanes[LANES];
};

/* Take the next batch off the queue (the lock held, the queue not empty). */
static struct stripe_delivery *take_batch(struct stripe_ingest *ingest)
{
	struct stripe_delivery *batch = ingest->head, *last = batch;
	size_t n = 1, bytes = batch->ev.len;
	while (last->next && n < BATCH_MAX && bytes + last->next->ev.len <= BATCH_BYTES_MAX) {
		last = last->next;
		bytes += last->ev.len;
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
static int store(PGconn **conn, const char *url, struct stripe_delivery *batch, struct sk_err *err)
{
	const struct stripe_event_in *evs[BATCH_MAX];
	struct stripe_stored outs[BATCH_MAX];
	size_t n = 0;
	for (struct stripe_delivery *d = batch; d; d = d->next)
		evs[n++] = &d->ev;
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
		for (struct stripe_delivery *d = batch; d; d = d->next)
			d->out = outs[n++];
	}
	return rc;
}

/* Write batch and set each delivery's rc (and err). When the batch fails as a whole while
 * the database is still there, one bad event must not fail the deliveries it came with:
 * each is stored again on its own. */
static void write_batch(PGconn **conn, const char *url, struct stripe_delivery *batch)
{
	struct sk_err err = {0};
	int rc = store(conn, url, batch, &err);
	if (rc < 0 && batch->next && *conn) {
		for (struct stripe_delivery *d = batch, *next; d; d = next) {
			next = d->next;
			d->next = NULL;
			d->rc = store(conn, url, d, &d->err);
			d->next = next;
		}
		return;
	}
	for (struct stripe_delivery *d = batch; d; d = d->next) {
		d->rc = rc;
		if (rc < 0)
			d->err = err;
	}
}

/* Hand each delivery of batch back to its owner (the lock not held). */
static void complete(struct stripe_delivery *batch)
{
	for (struct stripe_delivery *d = batch, *next; d; d = next) {
		next = d->next; /* d belongs to its owner again once done is called */
		d->next = NULL;
		d->done(d);
	}
}

/* Whether the writer should wait for more before it takes the queue (the lock held, the queue
 * not empty); if so, *until is when to look again. */
static bool gathering(const struct stripe_ingest *ingest, struct timespec *until)
{
	long long left = GATHER_US - (clock_us() - ingest->head->queued_us);
	if (ingest->stopping || ingest->queued >= GATHER || left <= 0)
		return false;
	*until = clock_deadline_us(left);
	return true;
}

static void *writer(void *arg)
{
	struct lane *lane = arg;
	struct stripe_ingest *ingest = lane->ingest;
	pthread_mutex_lock(&ingest->lock);
	for (;;) {
		struct timespec until;
		if (!ingest->head) {
			if (ingest->stopping)
				break;
			pthread_cond_wait(&ingest->arrived, &ingest->lock);
		} else if (gathering(ingest, &until)) {
			pthread_cond_timedwait(&ingest->arrived, &ingest->lock, &until);
		} else {
			struct stripe_delivery *batch = take_batch(ingest);
			if (ingest->head) /* the other writer may take what is left */
				pthread_cond_signal(&ingest->arrived);
			pthread_mutex_unlock(&ingest->lock);
			write_batch(&lane->conn, ingest->url, batch);
			complete(batch);
			pthread_mutex_lock(&ingest->lock);
		}
	}
	pthread_mutex_unlock(&ingest->lock);
	return NULL;
}

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
	pthread_cond_init(&ingest->arrived, NULL); /* the default clock, as clock_deadline_us's */
	for (int i = 0; i < LANES; i++) {
		ingest->lanes[i].ingest = ingest;
		if (pthread_create(&ingest->lanes[i].thread, NULL, writer, &ingest->lanes[i]) !=
		    0) {
			stripe_ingest_free(ingest);
			return NULL;
		}
		ingest->running++;
	}
	return ingest;
}

void stripe_ingest_submit(struct stripe_ingest *ingest, struct stripe_delivery *d)
{
	d->next = NULL;
	d->queued_us = clock_us();
	pthread_mutex_lock(&ingest->lock);
	if (ingest->stopping) {
		pthread_mutex_unlock(&ingest->lock);
		d->rc = err_set(&d->err, PROBLEM_UNAVAILABLE, "the server is stopping");
		d->done(d);
		return;
	}
	if (ingest->tail)
		ingest->tail->next = d;
	else
		ingest->head = d;
	ingest->tail = d;
	ingest->queued++;
	/* A writer is woken by the first delivery (to start gathering) and when enough are
	 * there; one that finishes a batch looks at the queue before it waits again. */
	if (ingest->queued == 1 || ingest->queued == GATHER)
		pthread_cond_signal(&ingest->arrived);
	pthread_mutex_unlock(&ingest->lock);
}

void stripe_ingest_stop(struct stripe_ingest *ingest)
{
	pthread_mutex_lock(&ingest->lock);
	ingest->stopping = true;
	pthread_cond_broadcast(&ingest->arrived);
	pthread_mutex_unlock(&ingest->lock);
	for (; ingest->running > 0; ingest->running--)
		pthread_join(ingest->lanes[ingest->running - 1].thread, NULL);
}

void stripe_ingest_free(struct stripe_ingest *ingest)
{
	if (!ingest)
		return;
	stripe_ingest_stop(ingest);
	for (int i = 0; i < LANES; i++)
		if (ingest->lanes[i].conn)
			PQfinish(ingest->lanes[i].conn);
	pthread_cond_destroy(&ingest->arrived);
	pthread_mutex_destroy(&ingest->lock);
	free(ingest->url);
	free(ingest);
}
