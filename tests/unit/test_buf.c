/*
 * test_buf.c — the growable buffer and the problem table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"

static void grows_and_formats(void **state)
{
	(void)state;
	struct buf b = {0};
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	buf_puts(&b, "end");
	assert_false(buf_failed(&b));
	assert_int_equal(strncmp(b.data, "0,1,2,", 6), 0);
	assert_int_equal(strcmp(b.data + b.len - 3, "end"), 0);
	char *s = buf_take(&b);
	assert_non_null(s);
	assert_null(b.data);
	free(s);
	struct buf empty = {0};
	s = buf_take(&empty);
	assert_string_equal(s, "");
	free(s);
}

static void problems_map_to_statuses(void **state)
{
	(void)state;
	assert_int_equal(problem_status(PROBLEM_INVALID_JSON), 400);
	assert_int_equal(problem_status(PROBLEM_UNAUTHORIZED), 401);
	assert_int_equal(problem_status(PROBLEM_NOT_FOUND), 404);
	assert_int_equal(problem_status(PROBLEM_TOO_LARGE), 413);
	assert_int_equal(problem_status(PROBLEM_INVALID_BODY), 422);
	assert_int_equal(problem_status(PROBLEM_UNAVAILABLE), 503);
	assert_int_equal(problem_status((enum problem)999), 500);
	assert_string_equal(problem_slug(PROBLEM_CONSENT_REQUIRED), "consent-required");
	assert_int_equal(problem_exit_code(PROBLEM_USAGE), 2);
	assert_int_equal(problem_exit_code(PROBLEM_FINDING), 1);
	struct sk_err err;
	assert_int_equal(err_set(&err, PROBLEM_CONFLICT, "dup %s", "key"), -1);
	assert_string_equal(err.detail, "dup key");
	assert_int_equal(err_set(NULL, PROBLEM_CONFLICT, "ignored"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(grows_and_formats),
	        cmocka_unit_test(problems_map_to_statuses),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
