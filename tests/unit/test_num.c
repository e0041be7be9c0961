/*
 * test_num.c — integers from text: the whole text, in range, or refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/num.h"

static void accepts_whole_numbers_in_range(void **state)
{
	(void)state;
	long long v = 0;
	assert_int_equal(num_parse("1", 1, 1000, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(num_parse("1000", 1, 1000, &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(num_parse("-5", -10, 10, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(num_parse("+7", 0, 10, &v), 0);
	assert_int_equal(v, 7);
}

static void refuses_anything_else_and_leaves_the_value(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "",
	        "0",
	        "1001",
	        "5x",
	        "x5",
	        " 5",
	        "5 ",
	        "1e3",
	        "0x10",
	        "--1",
	        "+",
	        "-",
	        "99999999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long long v = 42;
		assert_int_equal(num_parse(bad[i], 1, 1000, &v), -1);
		assert_int_equal(v, 42);
	}
	long long v = 42;
	assert_int_equal(num_parse(NULL, 1, 1000, &v), -1);
	assert_int_equal(v, 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(accepts_whole_numbers_in_range),
	        cmocka_unit_test(refuses_anything_else_and_leaves_the_value),
	};
	return cmocka_run_group_tests_name("num", tests, NULL, NULL);
}
