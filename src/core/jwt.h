/*
 * jwt.h — verify (and, for tools, sign) HS256 JSON Web Tokens (Supabase access tokens and
 * the service role key).
 *
 * Written on OpenSSL's HMAC and jansson rather than Debian's libjwt 1.10, whose decoder takes
 * the algorithm from the token and has no claim validation. Here the algorithm is fixed by the
 * caller: a token whose header says anything but "HS256" (including "none") is refused before
 * its signature is even looked at. The signature is compared in constant time, and the
 * payload is parsed only once the signature verifies. fuzz/fuzz_jwt.c exercises it.
 */
#ifndef SK_JWT_H
#define SK_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define JWT_MAX_LEN      8192
#define JWT_CLOCK_SKEW_S 60

enum jwt_status {
	JWT_VALID = 0,
	JWT_MALFORMED,     /* not three base64url parts of JSON objects */
	JWT_ALG_REFUSED,   /* alg is not HS256, or the header asks for what we do not do */
	JWT_BAD_SIGNATURE, /* the signature does not verify */
	JWT_EXPIRED,       /* exp is in the past (beyond the skew) */
	JWT_NOT_YET_VALID, /* nbf or iat is in the future (beyond the skew) */
	JWT_MISSING_EXP,   /* no numeric exp: tokens that never expire are refused */
};

/* Verify token (len bytes) with secret. On JWT_VALID, *payload holds the claims (the caller
 * json_decref()s it); on anything else *payload is NULL. now is the current time. */
enum jwt_status jwt_verify_hs256(const char *token, size_t len, const void *secret,
                                 size_t secret_len, time_t now, json_t **payload);

/* Sign claims as an HS256 token (the caller frees it), or NULL. For the demo's synthetic
 * person and the tools that act as one; the server itself only verifies. */
char *jwt_sign_hs256(const json_t *claims, const void *secret, size_t secret_len);

/* A short reason for a status, fit for a problem detail (never names part of a secret). */
const char *jwt_status_text(enum jwt_status status);

#endif
