/*
 * test_migrate.c — migration file names and directory scans (the database side is tested
 * end to end in tests/node/migrate.test.mjs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/migrate.h"

static void file_names(void **state)
{
	(void)state;
	char v[MIGRATION_VERSION_LEN + 1], n[MIGRATION_NAME_MAX];
	assert_int_equal(migration_parse_filename("20261125000001_supabase_compat.sql", v, n), 0);
	assert_string_equal(v, "20261125000001");
	assert_string_equal(n, "supabase_compat");
	assert_int_equal(migration_parse_filename("20261125000001_a-b.sql", v, n), 0);
	assert_int_equal(migration_parse_filename("2026112500000_short.sql", v, n), -1);
	assert_int_equal(migration_parse_filename("20261125000001-dash.sql", v, n), -1);
	assert_int_equal(migration_parse_filename("20261125000001_.sql", v, n), -1);
	assert_int_equal(migration_parse_filename("20261125000001_x.SQL", v, n), -1);
	assert_int_equal(migration_parse_filename("20261125000001_sp ace.sql", v, n), -1);
	assert_int_equal(migration_parse_filename("2026112500000a_x.sql", v, n), -1);
	assert_int_equal(migration_parse_filename("../20261125000001_x.sql", v, n), -1);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *make_dir(void)
{
	char *dir = strdup("/tmp/sk-migrate-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void remove_dir(char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	/* The test's own temporary directory, quoted. */
	int rc = system(cmd); // NOLINT(cert-env33-c)
	assert_int_equal(rc, 0);
	free(dir);
}

static void scan_sorts_and_hashes(void **state)
{
	(void)state;
	char *dir = make_dir();
	write_file(dir, "20260102000000_second.sql", "select 2;");
	write_file(dir, "20260101000000_first.sql", "select 1;");
	write_file(dir, "README.md", "not a migration");
	struct migration_set set;
	struct sk_err err = {0};
	assert_int_equal(migrations_scan(dir, &set, &err), 0);
	assert_int_equal(set.count, 2);
	assert_string_equal(set.items[0].name, "first");
	assert_string_equal(set.items[1].name, "second");
	assert_string_equal(set.items[0].text, "select 1;");
	/* sha256("select 1;") */
	assert_string_equal(set.items[0].sha256,
	                    "354b7196c9ba5fb4b21cf615bb6ec4cd5c07503c34229feef033fc081a8c03f4");
	migrations_free(&set);
	remove_dir(dir);
}

static void scan_refuses(void **state)
{
	(void)state;
	struct migration_set set;
	struct sk_err err = {0};
	char *dir = make_dir();
	write_file(dir, "20260101000000_a.sql", "select 1;");
	write_file(dir, "20260101000000_b.sql", "select 2;");
	assert_int_equal(migrations_scan(dir, &set, &err), -1);
	assert_non_null(strstr(err.detail, "share version"));
	remove_dir(dir);

	dir = make_dir();
	write_file(dir, "badname.sql", "select 1;");
	assert_int_equal(migrations_scan(dir, &set, &err), -1);
	assert_non_null(strstr(err.detail, "badname.sql"));
	remove_dir(dir);

	assert_int_equal(migrations_scan("/nonexistent/dir", &set, &err), -1);
	assert_int_equal(err.problem, PROBLEM_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(file_names),
	        cmocka_unit_test(scan_sorts_and_hashes),
	        cmocka_unit_test(scan_refuses),
	};
	return cmocka_run_group_tests_name("migrate", tests, NULL, NULL);
}
