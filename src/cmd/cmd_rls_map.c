/*
 * cmd_rls_map.c — `scrollkeep rls-map`: print the live RLS policy map as Markdown.
 */
#include <stdio.h>
#include <stdlib.h>

#include "command.h"
#include "core/db.h"
#include "domain/rls.h"

static int run(int argc, char **argv, const struct config *cfg)
{
	(void)argv;
	if (argc != 1)
		return command_usage(&cmd_rls_map);
	struct sk_err err = {0};
	struct db_options opt = {.app_name = "scrollkeep-rls-map", .statement_timeout_ms = 30000};
	PGconn *conn = db_connect(cfg->database_url, &opt, &err);
	if (!conn)
		return command_fail(&cmd_rls_map, &err);
	char *markdown = NULL;
	int rc = 0;
	if (rls_map_markdown(conn, &markdown, &err) < 0)
		rc = command_fail(&cmd_rls_map, &err);
	else
		fputs(markdown, stdout);
	free(markdown);
	PQfinish(conn);
	return rc;
}

const struct command cmd_rls_map = {
        .name = "rls-map",
        .usage = "",
        .summary = "print the RLS policy map (Markdown) from the live catalogs",
        .run = run,
};
