/*
 * test_crypto.c — SHA-256 and HMAC-SHA256 against published vectors (FIPS 180-2, RFC 4231),
 * base64url both ways, and the constant-time compare.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"

static void sha256_vectors(void **state)
{
	(void)state;
	char hex[SHA256_HEX_LEN + 1];
	crypto_sha256_hex("abc", 3, hex);
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	crypto_sha256_hex("", 0, hex);
	assert_string_equal(hex,
	                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void hmac_rfc4231_case2(void **state)
{
	(void)state;
	uint8_t mac[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1];
	const char *data = "what do ya want for nothing?";
	assert_int_equal(crypto_hmac_sha256("Jefe", 4, data, strlen(data), mac), 0);
	crypto_hex(mac, sizeof(mac), hex);
	assert_string_equal(hex,
	                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void b64url_round_trip(void **state)
{
	(void)state;
	const uint8_t raw[] = {0xfb, 0xff, 0xfe, 0x00, 0x41};
	char enc[16];
	crypto_b64url_encode(raw, sizeof(raw), enc);
	assert_string_equal(enc, "-__-AEE"); /* standard base64 would be "+//+AEE=" */
	uint8_t dec[16];
	assert_int_equal(crypto_b64url_decode(enc, strlen(enc), dec, sizeof(dec)), sizeof(raw));
	assert_memory_equal(dec, raw, sizeof(raw));
	/* padding is tolerated */
	assert_int_equal(crypto_b64url_decode("QUI=", 4, dec, sizeof(dec)), 2);
	assert_memory_equal(dec, "AB", 2);
	assert_int_equal(crypto_b64url_decode("", 0, dec, sizeof(dec)), 0);
}

static void b64url_rejects(void **state)
{
	(void)state;
	uint8_t dec[16];
	assert_int_equal(crypto_b64url_decode("a+b/", 4, dec, sizeof(dec)), -1);  /* std alphabet */
	assert_int_equal(crypto_b64url_decode("abcde", 5, dec, sizeof(dec)), -1); /* bad length */
	assert_int_equal(crypto_b64url_decode("ab.c", 4, dec, sizeof(dec)), -1);
	assert_int_equal(crypto_b64url_decode("QUJDREVGR0g", 11, dec, 4), -1); /* too small */
}

static void equal_and_tokens(void **state)
{
	(void)state;
	assert_true(crypto_equal("same", "same", 4));
	assert_false(crypto_equal("same", "sane", 4));
	char a[64], b[64];
	assert_int_equal(crypto_token(32, a, sizeof(a)), 0);
	assert_int_equal(crypto_token(32, b, sizeof(b)), 0);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	char tiny[8];
	assert_int_equal(crypto_token(32, tiny, sizeof(tiny)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(sha256_vectors),    cmocka_unit_test(hmac_rfc4231_case2),
	        cmocka_unit_test(b64url_round_trip), cmocka_unit_test(b64url_rejects),
	        cmocka_unit_test(equal_and_tokens),
	};
	return cmocka_run_group_tests_name("crypto", tests, NULL, NULL);
}
