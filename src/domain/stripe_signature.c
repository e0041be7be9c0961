/*
 * stripe_signature.c — Stripe-Signature verification (see stripe_signature.h).
 *
 * Written here rather than taken from a library: Stripe publishes no C library, and the
 * scheme is a few lines over OpenSSL's HMAC (core/crypto), which does the cryptography.
 */
#include "stripe_signature.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"

struct parsed {
	long long t;
	const char *v1[16]; /* start of each v1 value (not NUL-terminated) */
	size_t v1_len[16];
	size_t nv1;
};

/* Read "t" as Stripe's libraries do, but only as plain digits (they accept "12abc"). */
static bool parse_time(const char *v, size_t n, long long *out)
{
	if (n == 0 || n > 12)
		return false;
	long long t = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		t = t * 10 + (v[i] - '0');
	}
	*out = t;
	return true;
}

static bool parse_header(const char *h, struct parsed *p)
{
	p->t = -1;
	p->nv1 = 0;
	const char *item = h;
	for (;;) {
		const char *end = strchr(item, ',');
		size_t len = end ? (size_t)(end - item) : strlen(item);
		const char *eq = memchr(item, '=', len);
		if (eq) {
			size_t klen = (size_t)(eq - item), vlen = len - klen - 1;
			if (klen == 1 && item[0] == 't') {
				if (!parse_time(eq + 1, vlen, &p->t))
					return false;
			} else if (klen == 2 && memcmp(item, "v1", 2) == 0 && p->nv1 < 16) {
				p->v1[p->nv1] = eq + 1;
				p->v1_len[p->nv1++] = vlen;
			}
		}
		if (!end)
			break;
		item = end + 1;
	}
	return p->t >= 0;
}

static bool matches(const struct parsed *p, const char *secret, const char *prefix, size_t plen,
                    const char *body, size_t body_len)
{
	uint8_t mac[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	if (crypto_hmac_sha256_parts(secret, strlen(secret), prefix, plen, body, body_len, mac) < 0)
		return false;
	crypto_hex(mac, SHA256_LEN, hex);
	bool found = false;
	for (size_t i = 0; i < p->nv1; i++) /* no early exit: every candidate costs the same */
		if (p->v1_len[i] == SHA256_HEX_LEN && crypto_equal(p->v1[i], hex, SHA256_HEX_LEN))
			found = true;
	return found;
}

enum stripe_sig stripe_signature_verify(const char *header, const char *body, size_t body_len,
                                        const char *const *secrets, size_t nsecrets, time_t now)
{
	if (!header || !*header)
		return STRIPE_SIG_MISSING;
	if (strlen(header) > STRIPE_SIG_MAX_HEADER)
		return STRIPE_SIG_MALFORMED;
	struct parsed p;
	if (!parse_header(header, &p))
		return STRIPE_SIG_MALFORMED;
	if (p.nv1 == 0)
		return STRIPE_SIG_NO_V1;
	/* The signed payload is "<t>.<body>", hashed in its two parts. */
	char prefix[24];
	int plen = snprintf(prefix, sizeof(prefix), "%lld.", p.t);
	bool ok = false;
	for (size_t i = 0; i < nsecrets; i++)
		if (secrets[i] && *secrets[i] &&
		    matches(&p, secrets[i], prefix, (size_t)plen, body ? body : "", body_len))
			ok = true;
	if (!ok)
		return STRIPE_SIG_MISMATCH;
	if ((long long)now - p.t > STRIPE_SIG_TOLERANCE)
		return STRIPE_SIG_STALE;
	if (p.t - (long long)now > STRIPE_SIG_TOLERANCE)
		return STRIPE_SIG_FUTURE;
	return STRIPE_SIG_OK;
}

const char *stripe_signature_reason(enum stripe_sig result)
{
	switch (result) {
	case STRIPE_SIG_OK:
		return "ok";
	case STRIPE_SIG_MISSING:
		return "missing";
	case STRIPE_SIG_MALFORMED:
		return "malformed";
	case STRIPE_SIG_NO_V1:
		return "no_v1";
	case STRIPE_SIG_MISMATCH:
		return "mismatch";
	case STRIPE_SIG_STALE:
		return "stale";
	case STRIPE_SIG_FUTURE:
		return "future";
	}
	return "unknown";
}

size_t stripe_signature_secrets(const char *value, char *storage, size_t storage_len,
                                const char **secrets, size_t max)
{
	if (!value || snprintf(storage, storage_len, "%s", value) >= (int)storage_len)
		return 0;
	size_t n = 0;
	char *save = NULL;
	for (char *s = strtok_r(storage, ",", &save); s && n < max;
	     s = strtok_r(NULL, ",", &save)) {
		while (*s == ' ')
			s++;
		size_t len = strlen(s);
		while (len && s[len - 1] == ' ')
			s[--len] = '\0';
		if (len)
			secrets[n++] = s;
	}
	return n;
}
