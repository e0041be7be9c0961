/*
 * fuzz_stripe_signature.c — the Stripe-Signature parser and verifier on arbitrary headers and
 * bodies. The input is split at the first newline into the header and the body. Anything may
 * come back but a crash or undefined behaviour; a random header must never verify, and a
 * header signed here (odd first byte: the fuzzer's header gets a correct v1 appended) must.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "domain/stripe_signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char secret[] = "whsec_fuzzing_0123456789";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	bool sign = data[0] & 1;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	const char *nl = memchr(in, '\n', n);
	size_t hlen = nl ? (size_t)(nl - in) : n;
	const char *body = nl ? nl + 1 : "";
	size_t blen = nl ? n - hlen - 1 : 0;
	char *header = malloc(hlen + 100);
	if (!header)
		return 0;
	memcpy(header, in, hlen);
	header[hlen] = '\0';
	if (memchr(in, '\0', hlen)) { /* a header never holds NUL */
		free(header);
		return 0;
	}
	const char *secrets[] = {secret};
	if (!sign) {
		if (stripe_signature_verify(header, body, blen, secrets, 1, 1764000000) ==
		    STRIPE_SIG_OK)
			abort(); /* a forged signature verified */
	} else {
		/* Sign "t=1764000000" + the fuzzer's tail as Stripe would, then verify. */
		char *payload = malloc(blen + 12);
		if (payload) {
			/* bytes signed, not a string */
			// NOLINTNEXTLINE(bugprone-not-null-terminated-result)
			memcpy(payload, "1764000000.", 11);
			memcpy(payload + 11, body, blen);
			uint8_t mac[SHA256_LEN];
			char hex[SHA256_HEX_LEN + 1];
			crypto_hmac_sha256(secret, strlen(secret), payload, blen + 11, mac);
			crypto_hex(mac, SHA256_LEN, hex);
			char h[120];
			snprintf(h, sizeof(h), "t=1764000000,v1=%s", hex);
			if (stripe_signature_verify(h, body, blen, secrets, 1, 1764000000) !=
			    STRIPE_SIG_OK)
				abort();
			free(payload);
		}
	}
	free(header);
	return 0;
}
