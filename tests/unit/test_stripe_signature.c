/*
 * test_stripe_signature.c — Stripe-Signature verification against vectors made by Stripe's
 * own Node library (stripe.webhooks.generateTestHeaderString, stripe 20.x): accepted as made,
 * refused when tampered, stale, too far ahead, signed with another secret or only v0; several
 * v1 values and two secrets during rotation accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "domain/stripe_signature.h"

static const char body[] =
        "{\"id\":\"evt_1\",\"object\":\"event\",\"type\":\"checkout.session.completed\"}";
static const char secret[] = "whsec_test_secret_0123456789";
/* generateTestHeaderString({payload: body, secret, timestamp: 1764000000}) */
static const char good[] = "e5dd8117195528aeb1e15ca31e8b563dad79475a6239d706ec73272b698db71b";
/* the same, with secret "whsec_other" */
static const char other[] = "47b47eb29ae9a11466c9a2465bfcaa8808542b64a20f80a2fc255c327bf5d597";
static const time_t T = 1764000000;

static enum stripe_sig verify(const char *header, const char *const *secrets, size_t n, time_t now)
{
	return stripe_signature_verify(header, body, strlen(body), secrets, n, now);
}

static void stripe_made_headers_verify(void **state)
{
	(void)state;
	const char *one[] = {secret};
	char h[256];
	snprintf(h, sizeof(h), "t=1764000000,v1=%s", good);
	assert_int_equal(verify(h, one, 1, T), STRIPE_SIG_OK);
	assert_int_equal(verify(h, one, 1, T + 300), STRIPE_SIG_OK);
	assert_int_equal(verify(h, one, 1, T - 300), STRIPE_SIG_OK);
	/* Several v1 values (Stripe sends one per active secret) and other schemes among them. */
	snprintf(h, sizeof(h), "t=1764000000,v1=%s,v0=abc,v1=%s,x=1", other, good);
	assert_int_equal(verify(h, one, 1, T), STRIPE_SIG_OK);
}

static void tampering_is_refused(void **state)
{
	(void)state;
	const char *one[] = {secret};
	char h[256];
	snprintf(h, sizeof(h), "t=1764000000,v1=%s", good);
	const char tampered[] =
	        "{\"id\":\"evt_2\",\"object\":\"event\",\"type\":\"checkout.session.completed\"}";
	assert_int_equal(stripe_signature_verify(h, tampered, strlen(tampered), one, 1, T),
	                 STRIPE_SIG_MISMATCH);
	snprintf(h, sizeof(h), "t=1764000001,v1=%s", good); /* the time is signed too */
	assert_int_equal(verify(h, one, 1, T), STRIPE_SIG_MISMATCH);
	char upper[80];
	snprintf(upper, sizeof(upper), "%s", good);
	upper[0] = 'E';
	snprintf(h, sizeof(h), "t=1764000000,v1=%s", upper);
	assert_int_equal(verify(h, one, 1, T), STRIPE_SIG_MISMATCH);
	snprintf(h, sizeof(h), "t=1764000000,v1=%.63s", good);
	assert_int_equal(verify(h, one, 1, T), STRIPE_SIG_MISMATCH);
	snprintf(h, sizeof(h), "t=1764000000,v1=%s", other); /* another secret's */
	assert_int_equal(verify(h, one, 1, T), STRIPE_SIG_MISMATCH);
}

static void time_window_both_ways(void **state)
{
	(void)state;
	const char *one[] = {secret};
	char h[256];
	snprintf(h, sizeof(h), "t=1764000000,v1=%s", good);
	assert_int_equal(verify(h, one, 1, T + 301), STRIPE_SIG_STALE);
	assert_int_equal(verify(h, one, 1, T - 301), STRIPE_SIG_FUTURE);
}

static void malformed_headers(void **state)
{
	(void)state;
	const char *one[] = {secret};
	char h[256];
	assert_int_equal(verify(NULL, one, 1, T), STRIPE_SIG_MISSING);
	assert_int_equal(verify("", one, 1, T), STRIPE_SIG_MISSING);
	snprintf(h, sizeof(h), "v1=%s", good);
	assert_int_equal(verify(h, one, 1, T), STRIPE_SIG_MALFORMED);
	snprintf(h, sizeof(h), "t=17640x0000,v1=%s", good);
	assert_int_equal(verify(h, one, 1, T), STRIPE_SIG_MALFORMED);
	snprintf(h, sizeof(h), "t=-1,v1=%s", good);
	assert_int_equal(verify(h, one, 1, T), STRIPE_SIG_MALFORMED);
	snprintf(h, sizeof(h), "t=1764000000,v0=%s", good); /* v0 only */
	assert_int_equal(verify(h, one, 1, T), STRIPE_SIG_NO_V1);
	assert_int_equal(verify("t=1764000000", one, 1, T), STRIPE_SIG_NO_V1);
	assert_int_equal(verify(",,,=,t=", one, 1, T), STRIPE_SIG_MALFORMED);
	snprintf(h, sizeof(h), " t=1764000000,v1=%s",
	         good); /* keys are not trimmed, as in Stripe's */
	assert_int_equal(verify(h, one, 1, T), STRIPE_SIG_MALFORMED);
}

static void rotation_accepts_either_secret(void **state)
{
	(void)state;
	char storage[128];
	const char *secrets[STRIPE_SIG_MAX_SECRETS];
	size_t n = stripe_signature_secrets("whsec_other, whsec_test_secret_0123456789", storage,
	                                    sizeof(storage), secrets, STRIPE_SIG_MAX_SECRETS);
	assert_int_equal(n, 2);
	assert_string_equal(secrets[1], secret);
	char h[256];
	snprintf(h, sizeof(h), "t=1764000000,v1=%s", good);
	assert_int_equal(verify(h, secrets, n, T), STRIPE_SIG_OK);
	snprintf(h, sizeof(h), "t=1764000000,v1=%s", other);
	assert_int_equal(verify(h, secrets, n, T), STRIPE_SIG_OK);
	assert_int_equal(verify(h, secrets + 1, 1, T), STRIPE_SIG_MISMATCH);
	assert_int_equal(stripe_signature_secrets("", storage, sizeof(storage), secrets, 4), 0);
	assert_int_equal(stripe_signature_secrets(NULL, storage, sizeof(storage), secrets, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(stripe_made_headers_verify),
	        cmocka_unit_test(tampering_is_refused),
	        cmocka_unit_test(time_window_both_ways),
	        cmocka_unit_test(malformed_headers),
	        cmocka_unit_test(rotation_accepts_either_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
