/*
 * crypto.h — the few primitives scrollkeep needs, all from OpenSSL's libcrypto:
 * SHA-256, HMAC-SHA256, random bytes, hex and base64url, and a constant-time compare.
 */
#ifndef SK_CRYPTO_H
#define SK_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN     32
#define SHA256_HEX_LEN 64

/* SHA-256 of data into out (32 bytes). */
void crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* SHA-256 of data as 64 lower-case hex characters plus NUL. */
void crypto_sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

/* HMAC-SHA256 of data under key into out (32 bytes). Returns -1 on a library failure. */
int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       uint8_t out[SHA256_LEN]);

/* The same of the two parts a then b, one after the other (no copy of them joined). */
int crypto_hmac_sha256_parts(const void *key, size_t key_len, const void *a, size_t a_len,
                             const void *b, size_t b_len, uint8_t out[SHA256_LEN]);

/* Cryptographically secure random bytes. Returns -1 when the generator fails. */
int crypto_random(void *buf, size_t len);

/* Lower-case hex of len bytes into out, which holds 2 * len + 1 characters. */
void crypto_hex(const uint8_t *bytes, size_t len, char *out);

/* base64url without padding; out holds at least crypto_b64url_len(len) + 1 bytes. */
size_t crypto_b64url_len(size_t len);
void crypto_b64url_encode(const uint8_t *bytes, size_t len, char *out);

/* Decode base64url (padding optional) into out (capacity out_cap). Returns the decoded length
 * or -1 on a character outside the alphabet, a bad length or too small an output. */
long crypto_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap);

/* Compare two buffers of equal length in time independent of their contents. */
bool crypto_equal(const void *a, const void *b, size_t len);

/* A random token of n random bytes as base64url (the share token is 32 bytes -> 43 chars). */
int crypto_token(size_t n_bytes, char *out, size_t out_len);

/* A random (version 4) UUID in canonical form. Returns -1 when the generator fails. */
int crypto_uuid_v4(char out[37]);

#endif
