/*
 * test_log.c — log lines are valid JSON, carry only allow-listed keys, and escape what
 * they are given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/log.h"

static json_t *emit_and_read(void (*emit)(void))
{
	FILE *f = tmpfile();
	assert_non_null(f);
	log_configure(LOG_DEBUG, f);
	emit();
	log_configure(LOG_INFO, stderr);
	rewind(f);
	json_error_t jerr;
	json_t *line = json_loadf(f, JSON_DISABLE_EOF_CHECK, &jerr);
	fclose(f);
	assert_non_null(line);
	return line;
}

static void emit_request(void)
{
	log_info("http_request", LF_STR("request_id", "r-1"), LF_INT("status", 201),
	         LF_BOOL("applied", 1), LF_STR("route", "quote\" and \\ and \n newline"));
}

static void line_is_json_with_fields(void **state)
{
	(void)state;
	json_t *line = emit_and_read(emit_request);
	assert_string_equal(json_string_value(json_object_get(line, "event")), "http_request");
	assert_string_equal(json_string_value(json_object_get(line, "level")), "info");
	assert_non_null(json_object_get(line, "ts"));
	assert_int_equal(json_integer_value(json_object_get(line, "status")), 201);
	assert_true(json_is_true(json_object_get(line, "applied")));
	assert_string_equal(json_string_value(json_object_get(line, "route")),
	                    "quote\" and \\ and \n newline");
	json_decref(line);
}

static void emit_invalid_utf8(void)
{
	log_info("bad_bytes", LF_STR("route", "\xff\xfe"));
}

static void invalid_utf8_is_replaced(void **state)
{
	(void)state;
	json_t *line = emit_and_read(emit_invalid_utf8);
	assert_string_equal(json_string_value(json_object_get(line, "route")), "[invalid-utf8]");
	json_decref(line);
}

static void allow_list(void **state)
{
	(void)state;
	size_t n;
	const char *const *keys = log_allowed_keys(&n);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			assert_true(strcmp(keys[i - 1], keys[i]) < 0); /* sorted: binary search */
		assert_true(log_key_allowed(keys[i]));
	}
	/* Every key the code uses is listed; personal-sounding keys are not. */
	const char *listed[] = {"request_id", "method",     "route",    "status",     "duration_ms",
	                        "bytes_in",   "bytes_out",  "sqlstate", "constraint", "table",
	                        "migration",  "url",        "threads",  "signal",     "reason_code",
	                        "database",   "applied",    "attempt",  "worker",     "job_id",
	                        "kind",       "support_ref"};
	for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++)
		assert_true(log_key_allowed(listed[i]));
	const char *refused[] = {"email",  "question", "answer", "name", "message", "token",
	                         "secret", "password", "body",   "path", "detail",  ""};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_false(log_key_allowed(refused[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(line_is_json_with_fields),
	        cmocka_unit_test(invalid_utf8_is_replaced),
	        cmocka_unit_test(allow_list),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
