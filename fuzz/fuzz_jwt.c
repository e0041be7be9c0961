/*
 * fuzz_jwt.c — the HS256 verifier on arbitrary tokens. Anything may come back but a crash,
 * a leak or undefined behaviour; a token that verifies must carry a payload.
 *
 * Random bytes never carry a valid signature, so half the inputs (odd first byte) are taken
 * as "header.payload" and signed here first: that lets the fuzzer reach the header, claim
 * and time checks behind the signature.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char key[] = "fuzzing-secret-0123456789abcdef0123456789";

static void verify(const char *token, size_t len, time_t now)
{
	json_t *payload = NULL;
	enum jwt_status st = jwt_verify_hs256(token, len, key, sizeof(key) - 1, now, &payload);
	if ((st == JWT_VALID) != (payload != NULL))
		abort();
	json_decref(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > JWT_MAX_LEN)
		return 0;
	const char *rest = (const char *)data + 1;
	size_t n = size - 1;
	if ((data[0] & 1) == 0) {
		verify(rest, n, 1700000000);
		return 0;
	}
	uint8_t mac[SHA256_LEN];
	if (crypto_hmac_sha256(key, sizeof(key) - 1, rest, n, mac) < 0)
		return 0;
	char *token = malloc(n + 1 + crypto_b64url_len(SHA256_LEN) + 1);
	if (!token)
		return 0;
	memcpy(token, rest, n);
	token[n] = '.';
	crypto_b64url_encode(mac, SHA256_LEN, token + n + 1);
	verify(token, strlen(token + n + 1) + n + 1, 1700000000);
	free(token);
	return 0;
}
