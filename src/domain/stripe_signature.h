/*
 * stripe_signature.h — the Stripe-Signature header of a webhook, verified exactly as Stripe's
 * own libraries verify it, and a little stricter where they are lenient.
 *
 * The header is "t=<unix time>,v1=<hex>,v1=<hex>,v0=<hex>…": items split at ',' and each at
 * its first '='; "t" is the timestamp; every "v1" is a candidate signature; other schemes
 * (v0, the test scheme) are ignored. The expected signature is HMAC-SHA256 of "<t>.<raw
 * body>" keyed with the whole webhook secret ("whsec_…", as text), compared in constant time
 * against each candidate, under each configured secret (two during a rotation). The
 * timestamp must be within STRIPE_SIG_TOLERANCE seconds of now in both directions (Stripe's
 * libraries check only the past).
 */
#ifndef SK_STRIPE_SIGNATURE_H
#define SK_STRIPE_SIGNATURE_H

#include <stddef.h>
#include <time.h>

#define STRIPE_SIG_TOLERANCE   300
#define STRIPE_SIG_MAX_HEADER  8192
#define STRIPE_SIG_MAX_SECRETS 4

enum stripe_sig {
	STRIPE_SIG_OK,
	STRIPE_SIG_MISSING,   /* no header */
	STRIPE_SIG_MALFORMED, /* no timestamp, or not one we can read */
	STRIPE_SIG_NO_V1,     /* no signature of the v1 scheme */
	STRIPE_SIG_MISMATCH,  /* no v1 signature matches any secret */
	STRIPE_SIG_STALE,     /* older than the tolerance */
	STRIPE_SIG_FUTURE,    /* further ahead than the tolerance */
};

/* Verify header over the raw body with any of the secrets, at time now. */
enum stripe_sig stripe_signature_verify(const char *header, const char *body, size_t body_len,
                                        const char *const *secrets, size_t nsecrets, time_t now);

/* A short, safe reason ("stale", "mismatch", …) for logs, metrics and the 400's code. */
const char *stripe_signature_reason(enum stripe_sig result);

/* Split STRIPE_WEBHOOK_SECRET ("whsec_a" or "whsec_a,whsec_b") into up to max secrets, copied
 * into storage (of storage_len bytes). Returns how many, 0 when none. */
size_t stripe_signature_secrets(const char *value, char *storage, size_t storage_len,
                                const char **secrets, size_t max);

#endif
