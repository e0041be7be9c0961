/*
 * test_jwt.c — the HS256 verifier against tokens signed by Node's crypto (an independent
 * implementation), and every way a token can be wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/jwt.h"

static const char secret[] = "unit-test-secret-0123456789abcdef0123456789";

/* Signed by Node: {"aud":"authenticated","role":"authenticated",
 * "sub":"8f14e45f-ceea-4e67-a3a2-3d1f3c1c2b6e","iat":1700000000,"exp":1700003600} */
static const char person[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJhdWQiOiJhdXRoZW50aWNhdGVkIiwicm9sZSI6ImF1dGhlbnRpY2F0ZWQiLCJzdWIiOiI4ZjE0ZTQ1Zi1jZWVhLTRlNjct"
        "YTNhMi0zZDFmM2MxYzJiNmUiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0."
        "gi_XqwTVhYTn_8CghrrWPGF8vt-4QDUb5QkpPMe2FZY";

/* Signed by Node, no exp: {"role":"service_role","iss":"supabase","iat":1700000000} */
static const char no_exp[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJyb2xlIjoic2VydmljZV9yb2xlIiwiaXNzIjoic3VwYWJhc2UiLCJpYXQiOjE3MDAwMDAwMDB9."
        "UZWUreY42fwh9QQrF1ETEgCsArBKkg1T0uq-EmgEil4";

static enum jwt_status verify(const char *token, time_t now)
{
	json_t *payload = NULL;
	enum jwt_status st =
	        jwt_verify_hs256(token, strlen(token), secret, strlen(secret), now, &payload);
	if (st == JWT_VALID)
		assert_non_null(payload);
	else
		assert_null(payload);
	json_decref(payload);
	return st;
}

/* Sign header.payload (given as JSON texts) with the test secret. */
static char *make(const char *header, const char *payload, const char *key)
{
	char h[512], p[1024];
	crypto_b64url_encode((const uint8_t *)header, strlen(header), h);
	crypto_b64url_encode((const uint8_t *)payload, strlen(payload), p);
	char *out = malloc(2048);
	assert_non_null(out);
	snprintf(out, 2048, "%s.%s", h, p);
	uint8_t mac[SHA256_LEN];
	assert_int_equal(crypto_hmac_sha256(key, strlen(key), out, strlen(out), mac), 0);
	char sig[64];
	crypto_b64url_encode(mac, sizeof(mac), sig);
	size_t used = strlen(out);
	snprintf(out + used, 2048 - used, ".%s", sig);
	return out;
}

static void node_token_verifies(void **state)
{
	(void)state;
	json_t *payload = NULL;
	assert_int_equal(jwt_verify_hs256(person, strlen(person), secret, strlen(secret),
	                                  1700000100, &payload),
	                 JWT_VALID);
	assert_string_equal(json_string_value(json_object_get(payload, "sub")),
	                    "8f14e45f-ceea-4e67-a3a2-3d1f3c1c2b6e");
	json_decref(payload);
}

static void times(void **state)
{
	(void)state;
	assert_int_equal(verify(person, 1700003600 + 59), JWT_VALID); /* within the skew */
	assert_int_equal(verify(person, 1700003600 + 60), JWT_EXPIRED);
	assert_int_equal(verify(person, 1700000000 - 61), JWT_NOT_YET_VALID); /* iat ahead */
	assert_int_equal(verify(no_exp, 1700000100), JWT_MISSING_EXP);
	char *nbf = make("{\"alg\":\"HS256\"}", "{\"exp\":2000000000,\"nbf\":1800000000}", secret);
	assert_int_equal(verify(nbf, 1700000000), JWT_NOT_YET_VALID);
	assert_int_equal(verify(nbf, 1800000000), JWT_VALID);
	free(nbf);
	char *str_exp = make("{\"alg\":\"HS256\"}", "{\"exp\":\"2000000000\"}", secret);
	assert_int_equal(verify(str_exp, 1700000000), JWT_MALFORMED);
	free(str_exp);
}

static void signatures(void **state)
{
	(void)state;
	char *other = make("{\"alg\":\"HS256\"}", "{\"exp\":2000000000}", "a-different-secret");
	assert_int_equal(verify(other, 1700000000), JWT_BAD_SIGNATURE);
	free(other);
	char tampered[sizeof(person)];
	memcpy(tampered, person, sizeof(person));
	tampered[40] = tampered[40] == 'A' ? 'B' : 'A'; /* a payload byte */
	assert_int_equal(verify(tampered, 1700000100), JWT_BAD_SIGNATURE);
	char short_sig[sizeof(person)];
	memcpy(short_sig, person, sizeof(person));
	short_sig[strlen(short_sig) - 4] = '\0';
	assert_int_equal(verify(short_sig, 1700000100), JWT_BAD_SIGNATURE);
}

static void algorithms(void **state)
{
	(void)state;
	const char *headers[] = {"{\"alg\":\"none\"}",
	                         "{\"alg\":\"HS512\"}",
	                         "{\"alg\":\"RS256\"}",
	                         "{\"alg\":\"hs256\"}",
	                         "{\"typ\":\"JWT\"}",
	                         "{\"alg\":\"HS256\",\"crit\":[\"b64\"]}",
	                         "{\"alg\":\"HS256\",\"jwk\":{}}"};
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		char *t = make(headers[i], "{\"exp\":2000000000}", secret);
		assert_int_equal(verify(t, 1700000000), JWT_ALG_REFUSED);
		free(t);
	}
	char *typ =
	        make("{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}", "{\"exp\":2000000000}", secret);
	assert_int_equal(verify(typ, 1700000000), JWT_MALFORMED);
	free(typ);
}

static void shapes(void **state)
{
	(void)state;
	const char *bad[] = {"",     ".",    "..",   "a.b",     "a.b.c.d",
	                     "a..c", ".b.c", "a.b.", "a+b.c.d", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln="};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(verify(bad[i], 1700000000), JWT_MALFORMED);
	/* signed, but the payload is an array and the header has a duplicate key */
	char *arr = make("{\"alg\":\"HS256\"}", "[1,2]", secret);
	assert_int_equal(verify(arr, 1700000000), JWT_MALFORMED);
	free(arr);
	char *dup = make("{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"exp\":2000000000}", secret);
	assert_int_equal(verify(dup, 1700000000), JWT_MALFORMED);
	free(dup);
	char *big = malloc(JWT_MAX_LEN + 10);
	memset(big, 'a', JWT_MAX_LEN + 9);
	big[JWT_MAX_LEN + 9] = '\0';
	assert_int_equal(verify(big, 1700000000), JWT_MALFORMED);
	free(big);
	json_t *payload = NULL;
	assert_int_equal(jwt_verify_hs256(person, strlen(person), "", 0, 1700000100, &payload),
	                 JWT_MALFORMED); /* no secret configured: nothing verifies */
}

/* What jwt_sign_hs256 makes, the verifier accepts with the same secret and no other. */
static void signing_round_trips(void **state)
{
	(void)state;
	json_t *claims =
	        json_pack("{s:s, s:s, s:s, s:i}", "sub", "0b5c8f9e-1111-4222-8333-944455556666",
	                  "role", "authenticated", "aud", "authenticated", "exp", 2000000000);
	char *token = jwt_sign_hs256(claims, secret, strlen(secret));
	assert_non_null(token);
	json_t *payload = NULL;
	assert_int_equal(jwt_verify_hs256(token, strlen(token), secret, strlen(secret), 1700000000,
	                                  &payload),
	                 JWT_VALID);
	assert_true(json_equal(payload, claims));
	json_decref(payload);
	assert_int_equal(
	        jwt_verify_hs256(token, strlen(token), "another-secret", 14, 1700000000, &payload),
	        JWT_BAD_SIGNATURE);
	free(token);
	json_decref(claims);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(node_token_verifies),
	        cmocka_unit_test(times),
	        cmocka_unit_test(signatures),
	        cmocka_unit_test(algorithms),
	        cmocka_unit_test(shapes),
	        cmocka_unit_test(signing_round_trips),
	};
	return cmocka_run_group_tests_name("jwt", tests, NULL, NULL);
}
