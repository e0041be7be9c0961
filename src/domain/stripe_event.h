/*
 * stripe_event.h — verified Stripe events, stored before the webhook answers 2xx.
 *
 * An event is kept whole in stripe_events (raw payload, type, livemode, the id of the object
 * it is about) and committed before the 2xx; a repeat delivery of the same event id only
 * counts up (received_count), in the database's unique key, however many arrive at once.
 * The first delivery of a type scrollkeep acts on is listed in a stripe_event_job enqueued in
 * the same transaction (one job for the events stored together); any other type is stored as
 * ignored and answered 2xx, so Stripe does not retry it for days.
 *
 * Events are stored in batches: many deliveries, one statement, one commit (the webhook's
 * group commit, stripe_ingest.h, gathers them). A batch of one is the ordinary case.
 */
#ifndef SK_STRIPE_EVENT_H
#define SK_STRIPE_EVENT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* A verified delivery, checked and ready to store. raw is the caller's (the request body). */
struct stripe_event_in {
	const char *raw;
	size_t len;
	char event_id[256];
	const char *status; /* "received" (a type scrollkeep acts on) or "ignored" */
};

struct stripe_stored {
	long long row_id;
	char event_id[256];
	char status[16]; /* received, ignored, processed, … */
	bool duplicate;  /* an earlier delivery of it was stored already */
};

/* Whether scrollkeep acts on events of this type. */
bool stripe_event_handled(const char *type);

/* Check that raw (len bytes) is a Stripe event object that stripe_events can hold. Returns -1
 * with PROBLEM_INVALID_JSON or PROBLEM_INVALID_BODY otherwise. ev->raw points into raw. */
int stripe_event_parse(const char *raw, size_t len, struct stripe_event_in *ev, struct sk_err *err);

/* Prepare stripe_event_store's statement on conn: once, before the first store on it. */
int stripe_event_prepare(PGconn *conn, struct sk_err *err);

/* Store n parsed deliveries in one statement, which is its own transaction: conn must be a
 * service_role session (db_connect_as) with no transaction open, prepared by
 * stripe_event_prepare. Deliveries of the same event
 * id in one batch count up together. Fills out[i] for evs[i]. A failure fails them all. */
int stripe_event_store(PGconn *conn, const struct stripe_event_in *const *evs, size_t n,
                       struct stripe_stored *out, struct sk_err *err);

#endif
