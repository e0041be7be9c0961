/*
 * stripe_api.h — the few calls scrollkeep makes to the Stripe API (STRIPE_API_BASE, with
 * STRIPE_SECRET_KEY), through libcurl: form-encoded POSTs with an Idempotency-Key, and GETs.
 * Every failure — no key, cannot connect, timeout, a non-2xx answer, a body that is not a
 * JSON object — is PROBLEM_BAD_GATEWAY with a detail that names Stripe's error type and code
 * but never the key or the request.
 */
#ifndef SK_STRIPE_API_H
#define SK_STRIPE_API_H

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"

/* POST form fields (name, value pairs, ending with NULL) to path ("/v1/checkout/sessions").
 * Returns the answer's JSON object (the caller decrefs) or NULL. */
json_t *stripe_api_post(const struct config *cfg, const char *path, const char *const *form,
                        const char *idempotency_key, struct sk_err *err);

/* GET path_and_query. Returns the answer's JSON object (the caller decrefs) or NULL. */
json_t *stripe_api_get(const struct config *cfg, const char *path_and_query, struct sk_err *err);

#endif
