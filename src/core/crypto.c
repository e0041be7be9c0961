/*
 * crypto.c — thin wrappers over OpenSSL; nothing here invents cryptography.
 */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void crypto_sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
	unsigned int n = 0;
	/* EVP_Digest with a built-in algorithm cannot fail short of memory corruption. */
	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != SHA256_LEN)
		abort();
}

void crypto_sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
	uint8_t digest[SHA256_LEN];
	crypto_sha256(data, len, digest);
	crypto_hex(digest, sizeof(digest), out);
}

/* OpenSSL's HMAC() looks the algorithm up again at every call (EVP_Q_mac: fetch, set up,
 * free), which cost as much as hashing a webhook's body; the algorithms are fetched once. */
static EVP_MAC *hmac;
static OSSL_PARAM hmac_params[2];
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	static char digest[] = "SHA256";
	hmac_params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	hmac_params[1] = OSSL_PARAM_construct_end();
}

int crypto_hmac_sha256_parts(const void *key, size_t key_len, const void *a, size_t a_len,
                             const void *b, size_t b_len, uint8_t out[SHA256_LEN])
{
	pthread_once(&hmac_once, hmac_fetch);
	EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	size_t n = 0;
	static const uint8_t none[1];
	int ok = ctx && EVP_MAC_init(ctx, key_len ? key : none, key_len, hmac_params) == 1 &&
	         EVP_MAC_update(ctx, a, a_len) == 1 &&
	         (!b_len || EVP_MAC_update(ctx, b, b_len) == 1) &&
	         EVP_MAC_final(ctx, out, &n, SHA256_LEN) == 1 && n == SHA256_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

int crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       uint8_t out[SHA256_LEN])
{
	return crypto_hmac_sha256_parts(key, key_len, data, len, NULL, 0, out);
}

int crypto_random(void *buf, size_t len)
{
	if (len > INT32_MAX)
		return -1;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

void crypto_hex(const uint8_t *bytes, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * len] = '\0';
}

size_t crypto_b64url_len(size_t len)
{
	return (len / 3) * 4 + (len % 3 ? len % 3 + 1 : 0);
}

void crypto_b64url_encode(const uint8_t *bytes, size_t len, char *out)
{
	/* EVP_EncodeBlock writes standard base64 with padding; translate and trim. */
	size_t padded = 4 * ((len + 2) / 3);
	unsigned char *tmp = malloc(padded + 1);
	if (!tmp)
		abort();
	EVP_EncodeBlock(tmp, bytes, (int)len);
	size_t n = crypto_b64url_len(len);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[i] == '+' ? '-' : tmp[i] == '/' ? '_' : (char)tmp[i];
	out[n] = '\0';
	free(tmp);
}

long crypto_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap)
{
	while (in_len > 0 && in[in_len - 1] == '=')
		in_len--;
	if (in_len % 4 == 1 || in_len > (size_t)INT32_MAX - 4)
		return -1;
	size_t padded = (in_len + 3) / 4 * 4;
	size_t pad = padded - in_len;
	size_t decoded = padded / 4 * 3 - pad;
	if (decoded > out_cap)
		return -1;
	unsigned char *tmp = malloc(padded + 1);
	unsigned char *bin = malloc(padded / 4 * 3 + 1);
	long result = -1;
	if (!tmp || !bin)
		goto out;
	for (size_t i = 0; i < in_len; i++) {
		char c = in[i];
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		           (c >= '0' && c <= '9')))
			goto out; /* '+', '/' and anything else are not base64url */
		tmp[i] = (unsigned char)c;
	}
	for (size_t i = in_len; i < padded; i++)
		tmp[i] = '=';
	if (EVP_DecodeBlock(bin, tmp, (int)padded) < 0)
		goto out;
	memcpy(out, bin, decoded);
	result = (long)decoded;
out:
	free(tmp);
	free(bin);
	return result;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

int crypto_token(size_t n_bytes, char *out, size_t out_len)
{
	uint8_t buf[64];
	if (n_bytes > sizeof(buf) || crypto_b64url_len(n_bytes) + 1 > out_len)
		return -1;
	if (crypto_random(buf, n_bytes) < 0)
		return -1;
	crypto_b64url_encode(buf, n_bytes, out);
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

int crypto_uuid_v4(char out[37])
{
	uint8_t b[16];
	if (crypto_random(b, sizeof(b)) < 0)
		return -1;
	b[6] = (uint8_t)((b[6] & 0x0F) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
	char hex[33];
	crypto_hex(b, sizeof(b), hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return 0;
}
