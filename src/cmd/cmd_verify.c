/*
 * cmd_verify.c — `scrollkeep verify [--json]`: the operator handbook's checks; exit 1 when
 * any finds something.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "command.h"
#include "core/db.h"
#include "domain/verify.h"

static int run(int argc, char **argv, const struct config *cfg)
{
	bool as_json;
	int usage = command_json_only(&cmd_verify, argc, argv, &as_json);
	if (usage)
		return usage;
	struct sk_err err = {0};
	struct db_options opt = {.app_name = "scrollkeep-verify", .statement_timeout_ms = 120000};
	PGconn *conn = db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, &err);
	if (!conn)
		return command_fail(&cmd_verify, &err);
	json_t *report = verify_run(conn, cfg, &err);
	PQfinish(conn);
	if (!report)
		return command_fail(&cmd_verify, &err);
	if (as_json) {
		char *text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(text ? text : "{}");
		free(text);
	} else {
		size_t i, k;
		json_t *check, *item;
		json_array_foreach(json_object_get(report, "checks"), i, check)
		{
			json_t *items = json_object_get(check, "items");
			printf("%-7s %-22s %zu\n", json_array_size(items) ? "FINDING" : "ok",
			       json_string_value(json_object_get(check, "name")),
			       json_array_size(items));
			json_array_foreach(items, k, item)
			{
				printf("        %-10s %s\n",
				       json_string_value(json_object_get(item, "problem")),
				       json_string_value(json_object_get(item, "id")));
			}
		}
		long long n = json_integer_value(json_object_get(report, "findings"));
		printf("verify: %lld finding%s\n", n, n == 1 ? "" : "s");
	}
	int rc = json_integer_value(json_object_get(report, "findings")) > 0 ? 1 : 0;
	json_decref(report);
	return rc;
}

const struct command cmd_verify = {
        .name = "verify",
        .usage = "[--json]",
        .summary = "check real data after payment or delivery failures (exit 1 on a finding)",
        .run = run,
};
