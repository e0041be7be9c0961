/*
 * cmd_shop.c — `scrollkeep shop import FILE.json`: upsert the catalog (products, prices,
 * purchase links) in one transaction and report, per table, what was created, updated and
 * left unchanged. A bad file writes nothing (see domain/shop.h for its shape).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "core/db.h"
#include "core/files.h"
#include "domain/shop.h"

static void print_count(const char *what, const struct shop_count *c)
{
	printf("%-15s %3d created, %3d updated, %3d unchanged\n", what, c->created, c->updated,
	       c->unchanged);
}

static int run(int argc, char **argv, const struct config *cfg)
{
	if (argc != 3 || strcmp(argv[1], "import") != 0)
		return command_usage(&cmd_shop);
	struct sk_err err = {0};
	size_t len;
	char *text = file_read_all(argv[2], 4u * 1024u * 1024u, &len, &err);
	if (!text)
		return command_fail(&cmd_shop, &err);
	json_error_t jerr;
	json_t *catalog = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!json_is_object(catalog)) {
		json_decref(catalog);
		err_set(&err, PROBLEM_USAGE, "%s is not a JSON object (line %d: %s)", argv[2],
		        jerr.line, jerr.text);
		return command_fail(&cmd_shop, &err);
	}
	struct db_options opt = {.app_name = "scrollkeep-shop", .statement_timeout_ms = 60000};
	PGconn *conn = db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, &err);
	struct shop_report rep;
	int rc = -1;
	if (conn && db_exec(conn, "BEGIN", 0, NULL, &err) == 0) {
		rc = shop_import(conn, catalog, &rep, &err);
		if (rc == 0)
			rc = db_commit(conn, &err);
		if (rc < 0)
			db_rollback(conn);
	}
	json_decref(catalog);
	if (conn)
		PQfinish(conn);
	if (rc < 0)
		return command_fail(&cmd_shop, &err);
	print_count("products", &rep.products);
	print_count("prices", &rep.prices);
	print_count("purchase links", &rep.links);
	return 0;
}

const struct command cmd_shop = {
        .name = "shop",
        .usage = "import FILE.json",
        .summary = "upsert the catalog: products, prices, purchase links",
        .run = run,
};
