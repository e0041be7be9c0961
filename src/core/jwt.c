/*
 * jwt.c — HS256 verification: shape, header, signature, then claims, in that order.
 */
#include "jwt.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "crypto.h"

#define JWT_SEGMENT_MAX 6144

const char *jwt_status_text(enum jwt_status status)
{
	switch (status) {
	case JWT_VALID:
		return "the token is valid";
	case JWT_MALFORMED:
		return "the token is malformed";
	case JWT_ALG_REFUSED:
		return "the token's algorithm is not accepted (HS256 only)";
	case JWT_BAD_SIGNATURE:
		return "the token's signature does not verify";
	case JWT_EXPIRED:
		return "the token has expired";
	case JWT_NOT_YET_VALID:
		return "the token is not valid yet";
	case JWT_MISSING_EXP:
		return "the token has no expiry";
	}
	return "the token is invalid";
}

static bool b64url_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Decode one segment into a JSON object (duplicate keys refused), or NULL. */
static json_t *decode_object(const char *seg, size_t n)
{
	uint8_t *raw = malloc(n + 1);
	if (!raw)
		return NULL;
	long len = crypto_b64url_decode(seg, n, raw, n);
	json_t *obj = NULL;
	if (len > 0) {
		json_error_t jerr;
		obj = json_loadb((const char *)raw, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
		if (obj && !json_is_object(obj)) {
			json_decref(obj);
			obj = NULL;
		}
	}
	free(raw);
	return obj;
}

/* A NumericDate claim: *value set and true when present and a finite number. */
static bool numeric_claim(const json_t *payload, const char *name, double *value, bool *present)
{
	const json_t *v = json_object_get(payload, name);
	*present = v != NULL;
	if (!v)
		return true;
	if (!json_is_number(v))
		return false;
	*value = json_number_value(v);
	return isfinite(*value);
}

static enum jwt_status check_header(const char *seg, size_t n)
{
	json_t *header = decode_object(seg, n);
	if (!header)
		return JWT_MALFORMED;
	enum jwt_status st = JWT_VALID;
	const char *alg = json_string_value(json_object_get(header, "alg"));
	const char *typ = json_string_value(json_object_get(header, "typ"));
	/* Refused for two reasons, kept apart: a foreign algorithm, and extensions below. */
	if (!alg || strcmp(alg, "HS256") != 0)
		st = JWT_ALG_REFUSED; // NOLINT(bugprone-branch-clone)
	else if (json_object_get(header, "typ") && (!typ || strcasecmp(typ, "JWT") != 0))
		st = JWT_MALFORMED;
	else if (json_object_get(header, "crit") || json_object_get(header, "jku") ||
	         json_object_get(header, "jwk") || json_object_get(header, "x5u"))
		st = JWT_ALG_REFUSED; /* extensions and key references we do not honour */
	json_decref(header);
	return st;
}

static enum jwt_status check_signature(const char *token, size_t signed_len, const char *sig,
                                       size_t sig_len, const void *secret, size_t secret_len)
{
	uint8_t expected[SHA256_LEN], given[SHA256_LEN + 4];
	if (crypto_hmac_sha256(secret, secret_len, token, signed_len, expected) < 0)
		return JWT_BAD_SIGNATURE;
	long n = crypto_b64url_decode(sig, sig_len, given, sizeof(given));
	if (n != SHA256_LEN)
		return JWT_BAD_SIGNATURE;
	return crypto_equal(expected, given, SHA256_LEN) ? JWT_VALID : JWT_BAD_SIGNATURE;
}

static enum jwt_status check_times(const json_t *payload, time_t now)
{
	double exp = 0, nbf = 0, iat = 0;
	bool has_exp, has_nbf, has_iat;
	if (!numeric_claim(payload, "exp", &exp, &has_exp) ||
	    !numeric_claim(payload, "nbf", &nbf, &has_nbf) ||
	    !numeric_claim(payload, "iat", &iat, &has_iat))
		return JWT_MALFORMED;
	if (!has_exp)
		return JWT_MISSING_EXP;
	double t = (double)now;
	if (t >= exp + JWT_CLOCK_SKEW_S)
		return JWT_EXPIRED;
	if ((has_nbf && t + JWT_CLOCK_SKEW_S < nbf) || (has_iat && t + JWT_CLOCK_SKEW_S < iat))
		return JWT_NOT_YET_VALID;
	return JWT_VALID;
}

enum jwt_status jwt_verify_hs256(const char *token, size_t len, const void *secret,
                                 size_t secret_len, time_t now, json_t **payload)
{
	*payload = NULL;
	if (!token || len == 0 || len > JWT_MAX_LEN || !secret || secret_len == 0)
		return JWT_MALFORMED;
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot1 || !dot2)
		return JWT_MALFORMED;
	size_t hlen = (size_t)(dot1 - token);
	size_t plen = (size_t)(dot2 - dot1 - 1);
	size_t slen = len - (size_t)(dot2 + 1 - token);
	if (hlen == 0 || plen == 0 || slen == 0 || hlen > JWT_SEGMENT_MAX ||
	    plen > JWT_SEGMENT_MAX || !b64url_chars(token, hlen) || !b64url_chars(dot1 + 1, plen) ||
	    !b64url_chars(dot2 + 1, slen))
		return JWT_MALFORMED;

	enum jwt_status st = check_header(token, hlen);
	if (st != JWT_VALID)
		return st;
	st = check_signature(token, (size_t)(dot2 - token), dot2 + 1, slen, secret, secret_len);
	if (st != JWT_VALID)
		return st;
	json_t *claims = decode_object(dot1 + 1, plen);
	if (!claims)
		return JWT_MALFORMED;
	st = check_times(claims, now);
	if (st != JWT_VALID) {
		json_decref(claims);
		return st;
	}
	*payload = claims;
	return JWT_VALID;
}

/* base64url of data, appended to b (no padding). */
static void append_b64url(struct buf *b, const void *data, size_t len)
{
	size_t n = crypto_b64url_len(len);
	char *out = malloc(n + 1);
	if (!out) {
		b->failed = true;
		return;
	}
	crypto_b64url_encode(data, len, out);
	buf_append(b, out, strlen(out));
	free(out);
}

char *jwt_sign_hs256(const json_t *claims, const void *secret, size_t secret_len)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char *payload = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
	if (!payload)
		return NULL;
	struct buf b = {0};
	append_b64url(&b, header, strlen(header));
	buf_puts(&b, ".");
	append_b64url(&b, payload, strlen(payload));
	free(payload);
	uint8_t mac[SHA256_LEN];
	if (buf_failed(&b) || crypto_hmac_sha256(secret, secret_len, b.data, b.len, mac) < 0) {
		buf_free(&b);
		return NULL;
	}
	buf_puts(&b, ".");
	append_b64url(&b, mac, sizeof(mac));
	return buf_take(&b);
}
