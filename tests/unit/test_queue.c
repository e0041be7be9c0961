/*
 * test_queue.c — error redaction before storage, and the outcome names the database knows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/queue.h"

static void redacts_addresses(void **state)
{
	(void)state;
	char out[501];
	queue_redact("550 5.1.1 <jane.doe+tag@mail.example.org>: user unknown", out, sizeof(out));
	assert_string_equal(out, "550 5.1.1 <[redacted]>: user unknown");
	queue_redact("to a@b.c and x_y@sub-domain.example.com", out, sizeof(out));
	assert_string_equal(out, "to [redacted] and [redacted]");
	queue_redact("no address here", out, sizeof(out));
	assert_string_equal(out, "no address here");
	queue_redact(NULL, out, sizeof(out));
	assert_string_equal(out, "");
}

static void removes_control_characters_and_bounds_length(void **state)
{
	(void)state;
	char out[501];
	queue_redact("line one\nline\ttwo\x1b[31m", out, sizeof(out));
	assert_string_equal(out, "line one line two [31m");
	char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	queue_redact(big, out, sizeof(out));
	assert_int_equal(strlen(out), 500);
	/* a cut never leaves half a UTF-8 character */
	char small[8];
	queue_redact("abcd\xc3\xa9\xc3\xa9", small, sizeof(small)); /* abcdéé */
	assert_string_equal(small, "abcd\xc3\xa9");
	queue_redact("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", small, sizeof(small)); /* €€€ */
	assert_string_equal(small, "\xe2\x82\xac\xe2\x82\xac");
}

static void outcome_names(void **state)
{
	(void)state;
	assert_string_equal(job_outcome_name(JOB_SUCCEEDED), "succeeded");
	assert_string_equal(job_outcome_name(JOB_TRANSIENT), "transient");
	assert_string_equal(job_outcome_name(JOB_PERMANENT), "permanent");
	assert_string_equal(job_outcome_name(JOB_PROVIDER_DOWN), "provider_down");
	assert_string_equal(job_outcome_name(JOB_RELEASED), "released");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(redacts_addresses),
	        cmocka_unit_test(removes_control_characters_and_bounds_length),
	        cmocka_unit_test(outcome_names),
	};
	return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
