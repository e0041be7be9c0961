/*
 * cmd_privacy.c — `scrollkeep privacy export USER_ID --out FILE | forget USER_ID
 * [--grace-hours N] | proof USER_ID | extend REQUEST_ID --until TIME --reason TEXT | reapply`:
 * the data-subject requests from the command line, run
 * through the same functions and steps as the API's and the worker's (domain/privacy.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "core/db.h"
#include "core/files.h"
#include "core/json.h"
#include "domain/privacy.h"
#include "domain/store.h"

static void print_json(const json_t *doc)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	puts(text ? text : "{}");
	free(text);
}

static int export_cmd(PGconn *conn, const struct config *cfg, const char *user, const char *out)
{
	struct sk_err err = {0};
	const char *params[] = {user};
	json_t *req = db_query_json(conn, "SELECT to_jsonb(scrollkeep.request_export($1, 'cli'))",
	                            1, params, &err);
	if (!req)
		return command_fail(&cmd_privacy, &err);
	const char *id = json_string_value(json_object_get(req, "id"));
	char export_id[37];
	snprintf(export_id, sizeof(export_id), "%s", id ? id : "");
	json_decref(req);
	if (privacy_export_run(conn, cfg, export_id, &err) < 0)
		return command_fail(&cmd_privacy, &err);
	const char *id_params[] = {export_id};
	PGresult *row =
	        db_query(conn, "SELECT storage_path, sha256 FROM public.data_exports WHERE id = $1",
	                 1, id_params, &err);
	if (!row)
		return command_fail(&cmd_privacy, &err);
	size_t len;
	char sha[SHA256_HEX_LEN + 1];
	char *data = store_get(cfg->artifact_dir, PQgetvalue(row, 0, 0), &len, sha, &err);
	bool intact = data && strcmp(sha, PQgetvalue(row, 0, 1)) == 0;
	PQclear(row);
	if (!intact) {
		free(data);
		if (data)
			err_set(&err, PROBLEM_INTERNAL, "the archive does not match its hash");
		return command_fail(&cmd_privacy, &err);
	}
	int rc = file_write_atomic(out, data, len, &err);
	free(data);
	if (rc < 0)
		return command_fail(&cmd_privacy, &err);
	printf("privacy export: data export %s, %zu bytes, sha256 %s, written to %s\n", export_id,
	       len, sha, out);
	return 0;
}

static int forget_cmd(PGconn *conn, const struct config *cfg, const char *user, int grace_hours)
{
	struct sk_err err = {0};
	char grace[32];
	snprintf(grace, sizeof(grace), "%d hours", grace_hours);
	const char *params[] = {user, grace};
	json_t *req = db_query_json(
	        conn, "SELECT to_jsonb(scrollkeep.request_deletion($1, 'cli', $2::interval))", 2,
	        params, &err);
	if (!req)
		return command_fail(&cmd_privacy, &err);
	char id[37];
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(req, "id")));
	if (grace_hours > 0) {
		printf("privacy forget: deletion request %s scheduled for %s (the person may cancel "
		       "until then); due %s\n",
		       id, json_string_value(json_object_get(req, "scheduled_for")),
		       json_string_value(json_object_get(req, "due_at")));
		json_decref(req);
		return 0;
	}
	json_decref(req);
	json_t *done = NULL;
	if (privacy_forget_run(conn, cfg, id, &done, &err) < 0)
		return command_fail(&cmd_privacy, &err);
	print_json(done);
	bool completed =
	        strcmp(json_string_value(json_object_get(done, "status")), "completed") == 0;
	json_decref(done);
	if (!completed) {
		err_set(&err, PROBLEM_FINDING,
		        "the proof found the person: the deletion is not complete");
		return command_fail(&cmd_privacy, &err);
	}
	return 0;
}

static int proof_cmd(PGconn *conn, const struct config *cfg, const char *user)
{
	struct sk_err err = {0};
	json_t *report = privacy_proof(conn, cfg, user, &err);
	if (!report)
		return command_fail(&cmd_privacy, &err);
	print_json(report);
	long long hits = json_integer_value(json_object_get(report, "hits"));
	json_decref(report);
	return hits ? 1 : 0;
}

static int extend_cmd(PGconn *conn, const char *request, const char *until, const char *reason)
{
	struct sk_err err = {0};
	const char *params[] = {request, until, reason};
	json_t *r = db_query_json(conn,
	                          "SELECT to_jsonb(scrollkeep.extend_deletion($1::uuid,"
	                          " $2::timestamptz, $3))",
	                          3, params, &err);
	if (!r)
		return command_fail(&cmd_privacy, &err);
	printf("privacy extend: deletion request %s now due %s\n", request,
	       json_string_value(json_object_get(r, "extended_due_at")));
	json_decref(r);
	return 0;
}

/* The data map as Markdown (docs/privacy-data-map.md is this output). */
static int map_cmd(const struct config *cfg)
{
	struct sk_err err = {0};
	struct db_options opt = {.app_name = "scrollkeep-privacy"};
	PGconn *conn = db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, &err);
	if (!conn)
		return command_fail(&cmd_privacy, &err);
	PGresult *res = db_query(conn, "SELECT * FROM scrollkeep.data_map()", 0, NULL, &err);
	PQfinish(conn);
	if (!res)
		return command_fail(&cmd_privacy, &err);
	puts("# Data map\n\n"
	     "Generated by `scrollkeep privacy map` from the column classification (every column's\n"
	     "`COMMENT`; `make docs` rewrites this file, and a test fails when it is stale). Every column\n"
	     "that is not `operational`, with its class, and how its table reaches the person (`$1` is\n"
	     "their id): the path the export and the deletion follow ([privacy.md](privacy.md)).\n\n"
	     "| table | column | type | class | what it holds | reached by |\n|---|---|---|---|---|---|");
	for (int i = 0; i < PQntuples(res); i++)
		printf("| %s | %s | %s | %s | %s | %s |\n", PQgetvalue(res, i, 0),
		       PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		       PQgetvalue(res, i, 4), *PQgetvalue(res, i, 5) ? PQgetvalue(res, i, 5) : "—");
	PQclear(res);
	return 0;
}

static int reapply_cmd(const struct config *cfg)
{
	struct sk_err err = {0};
	struct db_options opt = {.app_name = "scrollkeep-privacy", .statement_timeout_ms = 600000};
	PGconn *conn = db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, &err);
	if (!conn)
		return command_fail(&cmd_privacy, &err);
	int forgotten, failed;
	int rc = privacy_reapply_tombstones(conn, cfg, &forgotten, &failed, &err);
	PQfinish(conn);
	if (rc < 0)
		return command_fail(&cmd_privacy, &err);
	printf("privacy reapply: %d forgotten again, %d still found by their proof\n", forgotten,
	       failed);
	return failed ? 1 : 0;
}

static int run(int argc, char **argv, const struct config *cfg)
{
	if (argc == 2 && strcmp(argv[1], "reapply") == 0)
		return reapply_cmd(cfg);
	if (argc == 2 && strcmp(argv[1], "map") == 0)
		return map_cmd(cfg);
	if (argc < 3 || !json_is_uuid(argv[2]))
		return command_usage(&cmd_privacy);
	const char *what = argv[1], *user = argv[2], *out = NULL, *until = NULL, *reason = NULL;
	int grace_hours = cfg->deletion_grace_hours;
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc) {
			until = argv[++i];
		} else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
			reason = argv[++i];
		} else if (strcmp(argv[i], "--grace-hours") == 0 && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);
			if (*end || n < 0 || n > 336)
				return command_usage(&cmd_privacy);
			grace_hours = (int)n;
		} else {
			return command_usage(&cmd_privacy);
		}
	}
	bool is_export = strcmp(what, "export") == 0, is_forget = strcmp(what, "forget") == 0,
	     is_proof = strcmp(what, "proof") == 0, is_extend = strcmp(what, "extend") == 0;
	if ((!is_export && !is_forget && !is_proof && !is_extend) || (is_export != (out != NULL)) ||
	    (is_extend != (until != NULL && reason != NULL)))
		return command_usage(&cmd_privacy);
	struct sk_err err = {0};
	struct db_options opt = {.app_name = "scrollkeep-privacy", .statement_timeout_ms = 600000};
	PGconn *conn = db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, &err);
	if (!conn)
		return command_fail(&cmd_privacy, &err);
	int rc = is_export   ? export_cmd(conn, cfg, user, out)
	         : is_forget ? forget_cmd(conn, cfg, user, grace_hours)
	         : is_extend ? extend_cmd(conn, user, until, reason)
	                     : proof_cmd(conn, cfg, user);
	PQfinish(conn);
	return rc;
}

const struct command cmd_privacy = {
        .name = "privacy",
        .usage = "export USER_ID --out FILE | forget USER_ID [--grace-hours N] | proof USER_ID | "
                 "extend REQUEST_ID --until TIME --reason TEXT | reapply | map",
        .summary = "export a person's data; forget them, with a proof; prove them forgotten",
        .run = run,
};
