/*
 * checkout.h — Stripe Checkout for a signed-in person.
 *
 * Opening a checkout for a purchase link: the link's delivery channels must have their
 * consents (the one consent gate); the person's open session for the same link (and reading)
 * is reused, never a second one (concurrent requests take turns on an advisory lock, and the
 * database allows one open session per person and link); otherwise a Checkout Session is
 * created through the Stripe API with an Idempotency-Key and stored before the URL is
 * answered. A Stripe error or timeout is a 502 with nothing written.
 *
 * Confirming (the success page): the session is retrieved from Stripe and goes through the
 * one fulfillment path, racing the webhook safely.
 */
#ifndef SK_CHECKOUT_H
#define SK_CHECKOUT_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/config.h"
#include "core/err.h"

int checkout_validate(const json_t *body, struct sk_err *err);

/* The caller's transaction runs as authenticated with the person's claims. Returns
 * {id, checkout_session_id, url, expires_at, reused} or NULL. */
json_t *checkout_open(PGconn *conn, const struct config *cfg, const char *user_id,
                      const json_t *body, struct sk_err *err);

/* Returns {checkout_session_id, outcome, entitlement: {status, unlock_route} | null} or NULL
 * (404 for a session that is not the person's). */
json_t *checkout_confirm(PGconn *conn, const struct config *cfg, const char *user_id,
                         const char *stripe_session_id, struct sk_err *err);

#endif
