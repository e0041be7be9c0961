/*
 * test_sqlscript.c — statement boundaries as PostgreSQL's lexer sees them, and the
 * transaction-control check the migration runner relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/sqlscript.h"

struct collected {
	char items[16][256];
	int n;
};

static int collect(const char *text, size_t len, void *ctx)
{
	struct collected *c = ctx;
	if (c->n < 16)
		snprintf(c->items[c->n++], sizeof(c->items[0]), "%.*s", (int)len, text);
	return 0;
}

static struct collected split(const char *script, int expect_rc)
{
	struct collected c = {0};
	struct sk_err err = {0};
	assert_int_equal(sqlscript_split(script, strlen(script), collect, &c, &err), expect_rc);
	return c;
}

static void plain_statements(void **state)
{
	(void)state;
	struct collected c =
	        split("  select 1;\nselect 2 ;; \n-- only a comment\n;/* c */ ;select 3", 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.items[0], "select 1");
	assert_string_equal(c.items[1], "select 2");
	assert_string_equal(c.items[2], "select 3");
}

static void quotes_hide_semicolons(void **state)
{
	(void)state;
	struct collected c =
	        split("select 'a;b', 'it''s;'; select \"x;y\"; select E'\\';' ; select 4", 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.items[0], "select 'a;b', 'it''s;'");
	assert_string_equal(c.items[2], "select E'\\';'");
}

static void dollar_quotes_and_comments(void **state)
{
	(void)state;
	struct collected c =
	        split("do $$ begin perform 1; end $$;"
	              "create function f() returns int language sql as $body$ select 1; $body$;"
	              "select $1, a$b from t; /* a /* nested ; */ comment */ select 5; -- x;\n",
	              0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.items[0], "do $$ begin perform 1; end $$");
	assert_string_equal(c.items[2], "select $1, a$b from t");
	assert_string_equal(c.items[3], "/* a /* nested ; */ comment */ select 5");
}

static void begin_atomic_bodies(void **state)
{
	(void)state;
	struct collected c = split("create function g() returns int language sql begin atomic "
	                           "select case when true then 1 end; select 2; end; select 3;",
	                           0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.items[1], "select 3");
}

static void unterminated_input(void **state)
{
	(void)state;
	split("select 'open", -1);
	split("select \"open", -1);
	split("do $x$ never closed $y$", -1);
	split("/* /* nested */ still open", -1);
	split("select E'\\", -1);
	split("select $", 0); /* a lone $ is not a quote */
}

static void transaction_control(void **state)
{
	(void)state;
	const char *yes[] = {"COMMIT",
	                     "begin",
	                     "BEGIN TRANSACTION",
	                     "end",
	                     "rollback",
	                     "start transaction isolation level serializable",
	                     "abort",
	                     "prepare transaction 'x'",
	                     "/* c */ commit",
	                     "-- c\ncommit"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(sqlscript_is_transaction_control(yes[i], strlen(yes[i])));
	const char *no[] = {"rollback to savepoint a",
	                    "prepare q as select 1",
	                    "create table commit_log (x int)",
	                    "select 'commit'",
	                    "start_job()",
	                    "",
	                    "-- commit"};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(sqlscript_is_transaction_control(no[i], strlen(no[i])));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(plain_statements),
	        cmocka_unit_test(quotes_hide_semicolons),
	        cmocka_unit_test(dollar_quotes_and_comments),
	        cmocka_unit_test(begin_atomic_bodies),
	        cmocka_unit_test(unterminated_input),
	        cmocka_unit_test(transaction_control),
	};
	return cmocka_run_group_tests_name("sqlscript", tests, NULL, NULL);
}
