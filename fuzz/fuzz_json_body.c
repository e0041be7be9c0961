/*
 * fuzz_json_body.c — request bodies: the strict parser and every route's validator on
 * arbitrary bytes (the first byte picks the route; every route that takes a body is here).
 */
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "domain/artifact.h"
#include "domain/checkout.h"
#include "domain/consent.h"
#include "domain/council.h"
#include "domain/echo.h"
#include "domain/oracle.h"
#include "domain/privacy.h"
#include "domain/reading.h"
#include "jobs/support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int (*validator)(const json_t *body, struct sk_err *err);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const validator validators[] = {
	        reading_validate,     consent_validate,         echo_validate,
	        council_validate,     artifact_validate,        oracle_validate_reading,
	        oracle_validate_echo, oracle_validate_council,  checkout_validate,
	        jobs_retry_validate,  privacy_request_validate,
	};
	if (size < 1)
		return 0;
	validator v = validators[data[0] % (sizeof(validators) / sizeof(validators[0]))];
	struct sk_err err = {0};
	json_t *body = json_parse_body("application/json", (const char *)data + 1, size - 1, &err);
	if (body)
		v(body, &err);
	json_decref(body);
	return 0;
}
