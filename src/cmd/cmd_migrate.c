/*
 * cmd_migrate.c — `scrollkeep migrate [--status]`: apply the migrations, or list their state.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "command.h"
#include "core/db.h"
#include "domain/migrate.h"

static void print_applied(const struct migration *m, double ms, void *ctx)
{
	(void)ctx;
	printf("applied %s_%s.sql (%.0f ms)\n", m->version, m->name, ms);
	fflush(stdout);
}

static int print_status(PGconn *conn, const struct migration_set *set, struct sk_err *err)
{
	struct migration_status *st;
	size_t n;
	if (migrate_become_owner(conn, err) < 0 || migrate_status(conn, set, &st, &n, err) < 0)
		return -1;
	size_t counts[5] = {0};
	printf("%-14s  %-12s  %-19s  %s\n", "VERSION", "STATE", "APPLIED AT (UTC)", "NAME");
	for (size_t i = 0; i < n; i++) {
		counts[st[i].state]++;
		printf("%-14s  %-12s  %-19s  %s\n", st[i].version,
		       migration_state_name(st[i].state),
		       st[i].applied_at[0] ? st[i].applied_at : "-", st[i].name);
	}
	printf("%zu applied, %zu pending", counts[MIGRATION_APPLIED] + counts[MIGRATION_UNVERIFIED],
	       counts[MIGRATION_PENDING]);
	if (counts[MIGRATION_UNVERIFIED])
		printf(", %zu applied by another tool (no checksum)", counts[MIGRATION_UNVERIFIED]);
	if (counts[MIGRATION_TAMPERED])
		printf(", %zu CHANGED since applied", counts[MIGRATION_TAMPERED]);
	if (counts[MIGRATION_MISSING_FILE])
		printf(", %zu applied with no file", counts[MIGRATION_MISSING_FILE]);
	printf("\n");
	free(st);
	if (counts[MIGRATION_TAMPERED] || counts[MIGRATION_MISSING_FILE])
		return err_set(err, PROBLEM_FINDING,
		               "the applied history does not match the files");
	return 0;
}

static int run(int argc, char **argv, const struct config *cfg)
{
	static const struct option longopts[] = {{"status", no_argument, NULL, 's'},
	                                         {NULL, 0, NULL, 0}};
	bool status = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 's')
			status = true;
		else
			return command_usage(&cmd_migrate);
	}
	if (optind != argc)
		return command_usage(&cmd_migrate);

	struct sk_err err = {0};
	struct migration_set set;
	if (migrations_scan(cfg->migrations_dir, &set, &err) < 0)
		return command_fail(&cmd_migrate, &err);
	struct db_options opt = {.app_name = "scrollkeep-migrate", .statement_timeout_ms = 0};
	PGconn *conn = db_connect(cfg->database_url, &opt, &err);
	int rc = 0;
	if (!conn) {
		rc = command_fail(&cmd_migrate, &err);
	} else if (status) {
		if (print_status(conn, &set, &err) < 0)
			rc = command_fail(&cmd_migrate, &err);
	} else {
		int applied = 0;
		if (migrate_apply(conn, &set, print_applied, NULL, &applied, &err) < 0)
			rc = command_fail(&cmd_migrate, &err);
		else
			printf("migrate: %d applied, %zu already current\n", applied,
			       set.count - (size_t)applied);
	}
	PQfinish(conn);
	migrations_free(&set);
	return rc;
}

const struct command cmd_migrate = {
        .name = "migrate",
        .usage = "[--status]",
        .summary = "apply supabase/migrations, or list applied and pending",
        .run = run,
};
