/*
 * fulfill.h — the one fulfillment path, shared by the webhook's stripe_event_job, the success
 * page's confirmation and `stripe replay`.
 *
 * The decisions are the database's (migrations 012 and 015: scrollkeep.process_stripe_events
 * and scrollkeep.apply_ledger): serialised per Stripe object by advisory locks, cross-checked
 * against the local catalog, idempotent by unique keys, and order-independent; a batch of
 * events is applied as if one after another, with one statement per step for all of them.
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
#include <stddef.h>

#include "core/err.h"

/* Process the stored events row_ids[0..n-1], in that order (force: even those processed
 * already), and make their deliveries. Fills verdicts[i] with the database's verdict on
 * row_ids[i] ({result, …}; the caller decrefs each). On failure returns -1 with every
 * verdict NULL; the caller rolls back. */
int fulfill_events(PGconn *conn, const long long *row_ids, size_t n, bool force, json_t **verdicts,
                   struct sk_err *err);

/* After the transaction of fulfill_events has committed: wake the workers for the receipts
 * it enqueued (fulfill_events enqueues them without a wake-up, see queue_wake). */
void fulfill_wake(PGconn *conn, json_t *const *verdicts, size_t n);

/* fulfill_events for one event: its verdict, or NULL. */
json_t *fulfill_event(PGconn *conn, long long row_id, bool force, struct sk_err *err);

/* Apply a Checkout Session object retrieved from the API (the success page), cause
 * "confirm:<session id>". Returns the verdict or NULL. */
json_t *fulfill_session(PGconn *conn, const json_t *session, struct sk_err *err);

#endif
