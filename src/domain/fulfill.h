/*
 * fulfill.h — the one fulfillment path, shared by the webhook's stripe_event_job, the success
 * page's confirmation and `stripe replay`.
 *
 * The decisions are the database's (migration 012: scrollkeep.process_stripe_event and
 * scrollkeep.apply_checkout_session): serialised per Stripe object by advisory locks,
 * cross-checked against the local catalog, idempotent by unique keys, and order-independent.
 * What C adds, in the same transaction and only the first time an entitlement becomes
 * active, is the deliveries: the receipt e-mail job, the purchase link's artifact jobs for the
 * session's reading, and a passport stamp where passport_sync stands — each with an
 * idempotency key, so no path can deliver twice.
 *
 * Every function runs in the caller's transaction as service_role.
 */
#ifndef SK_FULFILL_H
#define SK_FULFILL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "core/err.h"

/* Process stored event row_id (force: even when processed already). Returns the database's
 * verdict ({result, …}; the caller decrefs) or NULL. */
json_t *fulfill_event(PGconn *conn, long long row_id, bool force, struct sk_err *err);

/* Apply a Checkout Session object retrieved from the API (the success page), cause
 * "confirm:<session id>". Returns the verdict or NULL. */
json_t *fulfill_session(PGconn *conn, const json_t *session, struct sk_err *err);

#endif
