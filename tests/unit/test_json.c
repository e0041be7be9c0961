/*
 * test_json.c — strict bodies: media type, parse errors, declared fields, lengths counted in
 * characters, control characters, UUIDs and timestamps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/json.h"

static json_t *parse(const char *ct, const char *body, struct sk_err *err)
{
	return json_parse_body(ct, body, strlen(body), err);
}

static void media_types_and_parse_errors(void **state)
{
	(void)state;
	struct sk_err err = {0};
	json_t *ok = parse("application/json; charset=UTF-8", "{\"a\":1}", &err);
	assert_non_null(ok);
	json_decref(ok);
	assert_null(parse("text/plain", "{}", &err));
	assert_int_equal(err.problem, PROBLEM_UNSUPPORTED_MEDIA);
	assert_null(parse("application/json; charset=latin1", "{}", &err));
	assert_int_equal(err.problem, PROBLEM_UNSUPPORTED_MEDIA);
	assert_null(parse("application/jsonx", "{}", &err));
	assert_null(parse(NULL, "{}", &err));
	assert_null(parse("application/json", "{", &err));
	assert_int_equal(err.problem, PROBLEM_INVALID_JSON);
	assert_null(parse("application/json", "{\"a\":1,\"a\":2}", &err));
	assert_int_equal(err.problem, PROBLEM_INVALID_JSON);
	assert_null(parse("application/json", "{\"a\":\"\\u0000\"}", &err));
	assert_null(parse("application/json", "{\"a\":\"\xff\"}", &err));
	assert_null(parse("application/json", "[]", &err));
	assert_int_equal(err.problem, PROBLEM_INVALID_BODY);
	assert_null(json_parse_body("application/json", "", 0, &err));
}

static const char *const colours[] = {"red", "green", NULL};
static const struct json_field fields[] = {
        {"name", JSON_FIELD_STRING, true, 1, 5, NULL},
        {"colour", JSON_FIELD_STRING, false, 1, 10, colours},
        {"count", JSON_FIELD_INT, false, 0, 9, NULL},
        {"id", JSON_FIELD_UUID, false, 36, 36, NULL},
        {"at", JSON_FIELD_TIMESTAMP, false, 0, 0, NULL},
        {"flag", JSON_FIELD_BOOL, false, 0, 0, NULL},
};

static int check(const char *text, struct sk_err *err)
{
	json_error_t jerr;
	json_t *obj = json_loads(text, 0, &jerr);
	assert_non_null(obj);
	int rc = json_check_fields(obj, fields, sizeof(fields) / sizeof(fields[0]), NULL, err);
	json_decref(obj);
	return rc;
}

static void declared_fields(void **state)
{
	(void)state;
	struct sk_err err = {0};
	assert_int_equal(check("{\"name\":\"ab\",\"colour\":\"red\",\"count\":3,\"flag\":true,"
	                       "\"id\":\"8F14E45F-CEEA-4E67-A3A2-3D1F3C1C2B6E\","
	                       "\"at\":\"2026-11-25T10:00:00.5+01:00\"}",
	                       &err),
	                 0);
	assert_int_equal(check("{\"name\":\"ab\",\"colour\":null}", &err), 0); /* optional null */
	assert_int_equal(check("{}", &err), -1);
	assert_string_equal(err.detail, "name is required");
	assert_int_equal(check("{\"name\":null}", &err), -1);
	assert_int_equal(check("{\"name\":\"ab\",\"other\":1}", &err), -1);
	assert_string_equal(err.detail, "unknown field other");
	assert_int_equal(check("{\"name\":\"ab\",\"colour\":\"blue\"}", &err), -1);
	assert_int_equal(check("{\"name\":7}", &err), -1);
	assert_string_equal(err.detail, "name must be a string");
	assert_int_equal(check("{\"name\":\"ab\",\"count\":10}", &err), -1);
	assert_int_equal(check("{\"name\":\"ab\",\"count\":1.5}", &err), -1);
	assert_int_equal(check("{\"name\":\"ab\",\"flag\":1}", &err), -1);
	assert_int_equal(check("{\"name\":\"ab\",\"id\":\"8f14e45f\"}", &err), -1);
	assert_string_equal(err.detail, "id must be a UUID");
	assert_int_equal(check("{\"name\":\"ab\",\"at\":\"2026-11-25 10:00:00\"}", &err), -1);
	assert_int_equal(check("{\"name\":\"ab\",\"at\":\"2026-11-25T10:00:00\"}", &err), -1);
}

static void lengths_in_characters(void **state)
{
	(void)state;
	struct sk_err err = {0};
	/* five characters of up to four bytes each fit a five-character limit */
	assert_int_equal(check("{\"name\":\"\xf0\x9f\x8c\x99\xc3\xa9\xe2\x82\xac"
	                       "ab\"}",
	                       &err),
	                 0);
	assert_int_equal(check("{\"name\":\"abcdef\"}", &err), -1);
	assert_int_equal(check("{\"name\":\"\"}", &err), -1);
	assert_int_equal(json_utf8_chars("\xf0\x9f\x8c\x99", 4), 1);
}

static void control_characters(void **state)
{
	(void)state;
	struct sk_err err = {0};
	assert_int_equal(check("{\"name\":\"a\\tb\\n\"}", &err), 0);
	assert_int_equal(check("{\"name\":\"a\\u0007\"}", &err), -1);
	assert_string_equal(err.detail, "name holds a control character");
	assert_int_equal(check("{\"name\":\"a\\u001b\"}", &err), -1);
	assert_true(json_has_control("\x7f", 1));
	assert_false(json_has_control("\r\n\t", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(media_types_and_parse_errors),
	        cmocka_unit_test(declared_fields),
	        cmocka_unit_test(lengths_in_characters),
	        cmocka_unit_test(control_characters),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
