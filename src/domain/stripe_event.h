/*
 * stripe_event.h — verified Stripe events, stored before the webhook answers 2xx.
 *
 * An event is kept whole in stripe_events (raw payload, type, livemode, the id of the object
 * it is about) and committed before the 2xx; a repeat delivery of the same event id only
 * counts up (received_count), in the database's unique key, however many arrive at once.
 * The first delivery of a type scrollkeep acts on enqueues its stripe_event_job in the same
 * transaction; any other type is stored as ignored and answered 2xx, so Stripe does not retry
 * it for days.
 */
#ifndef SK_STRIPE_EVENT_H
#define SK_STRIPE_EVENT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct stripe_stored {
	long long row_id;
	char event_id[256];
	char status[16]; /* received, ignored, processed, … */
	bool duplicate;  /* an earlier delivery of it was stored already */
};

/* Whether scrollkeep acts on events of this type. */
bool stripe_event_handled(const char *type);

/* Store the verified raw event in the caller's transaction (as service_role). Returns -1 with
 * PROBLEM_INVALID_BODY when it is not a Stripe event object. */
int stripe_event_store(PGconn *conn, const char *raw, size_t len, struct stripe_stored *out,
                       struct sk_err *err);

#endif
