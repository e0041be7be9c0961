/*
 * cmd_sweep.c — `scrollkeep sweep [--grace SECONDS]`: remove the files of the artifact store
 * that no row points to and that are older than the grace period (default an hour). The
 * worker does the same every hour.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "command.h"
#include "core/db.h"
#include "domain/store.h"

static int run(int argc, char **argv, const struct config *cfg)
{
	static const struct option longopts[] = {{"grace", required_argument, NULL, 'g'},
	                                         {NULL, 0, NULL, 0}};
	long grace = 3600;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		grace = c == 'g' ? strtol(optarg, &end, 10) : -1;
		if (c != 'g' || *end || grace < 0 || grace > 30L * 86400)
			return command_usage(&cmd_sweep);
	}
	if (optind != argc)
		return command_usage(&cmd_sweep);
	struct sk_err err = {0};
	struct db_options opt = {.app_name = "scrollkeep-sweep", .statement_timeout_ms = 60000};
	PGconn *conn = db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, &err);
	if (!conn)
		return command_fail(&cmd_sweep, &err);
	int removed = 0;
	int rc = store_sweep(cfg->artifact_dir, conn, (int)grace, &removed, &err);
	PQfinish(conn);
	if (rc < 0)
		return command_fail(&cmd_sweep, &err);
	printf("sweep: removed %d file%s no row points to\n", removed, removed == 1 ? "" : "s");
	return 0;
}

const struct command cmd_sweep = {
        .name = "sweep",
        .usage = "[--grace SECONDS]",
        .summary = "remove artifact files no row points to",
        .run = run,
};
