/*
 * cmd_lab.c — `scrollkeep lab --layer L [--channels a,b] [--consent p,q] [--user ID] [--json]`:
 * the persistence lab's panel for a layer against the live database (domain/lab.h), as text
 * or JSON; `scrollkeep lab --standard` prints docs/persistence-standard.md. Exit 1 when a
 * selected channel is not ready or a risk has violations now.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "core/db.h"
#include "domain/lab.h"
#include "jobs/handler.h"

static bool handler_known(const char *kind)
{
	return job_handler_find(kind) != NULL;
}

static void print_list(const char *label, const json_t *list)
{
	printf("%s", label);
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v) printf("%s%s", i ? ", " : "", json_string_value(v));
	printf("%s\n", json_array_size(list) ? "" : "none");
}

static void print_panel(const json_t *p)
{
	const json_t *layer = json_object_get(p, "layer");
	printf("%s — %s\n\nchannels\n", json_string_value(json_object_get(layer, "title")),
	       json_string_value(json_object_get(layer, "summary")));
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(p, "channels"), i, v)
	        printf("  %-8s %-3s %-12s %s\n",
	               json_is_true(json_object_get(v, "ready")) ? "ready" : "NOT READY",
	               json_is_true(json_object_get(v, "selected")) ? "[x]" : "[ ]",
	               json_string_value(json_object_get(v, "name")),
	               json_string_value(json_object_get(v, "title")));
	printf("\ntables\n");
	json_array_foreach(json_object_get(p, "tables"), i, v)
	        printf("  %-20s %-8s rls %-3s %zu polic%s\n",
	               json_string_value(json_object_get(v, "name")),
	               json_is_true(json_object_get(v, "present")) ? "present" : "MISSING",
	               json_is_true(json_object_get(v, "rls")) ? "on" : "OFF",
	               json_array_size(json_object_get(v, "policies")),
	               json_array_size(json_object_get(v, "policies")) == 1 ? "y" : "ies");
	printf("\njobs\n");
	json_array_foreach(json_object_get(p, "jobs"), i, v)
	        printf("  %-26s handler %-3s queued %lld dead %lld unknown %lld\n",
	               json_string_value(json_object_get(v, "kind")),
	               json_is_true(json_object_get(v, "handler")) ? "yes" : "NO",
	               json_integer_value(json_object_get(v, "queued")),
	               json_integer_value(json_object_get(v, "dead")),
	               json_integer_value(json_object_get(v, "unknown")));
	printf("\nenvironment\n");
	json_array_foreach(json_object_get(p, "env"), i, v)
	        printf("  %-28s %s\n", json_string_value(json_object_get(v, "name")),
	               json_string_value(json_object_get(v, "state")));
	const json_t *consent = json_object_get(p, "consent");
	printf("\nconsent (%s)\n", json_string_value(json_object_get(consent, "source")));
	print_list("  required ", json_object_get(consent, "required"));
	print_list("  given    ", json_object_get(consent, "given"));
	print_list("  missing  ", json_object_get(consent, "missing"));
	printf("\nrisks\n");
	json_array_foreach(json_object_get(p, "risks"), i, v)
	{
		const json_t *n = json_object_get(v, "violations");
		printf("  %-28s %s%lld  %s\n", json_string_value(json_object_get(v, "name")),
		       json_integer_value(n) ? "VIOLATIONS " : "", json_integer_value(n),
		       json_is_null(n) ? "(the check failed)"
		                       : json_string_value(json_object_get(v, "risk")));
	}
}

/* Whether the panel shows a problem: a selected channel not ready, or a violation. */
static bool troubled(const json_t *p)
{
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(p, "channels"), i,
	                   v) if (json_is_true(json_object_get(v, "selected")) &&
	                          !json_is_true(json_object_get(v, "ready"))) return true;
	return json_integer_value(json_object_get(json_object_get(p, "summary"), "violations")) > 0;
}

static int standard(json_t *catalog)
{
	char *text = lab_standard(catalog);
	json_decref(catalog);
	if (!text)
		return 1;
	fputs(text, stdout);
	free(text);
	return 0;
}

static int run(int argc, char **argv, const struct config *cfg)
{
	struct lab_query q = {0};
	bool as_json = false, want_standard = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if (strcmp(a, "--json") == 0)
			as_json = true;
		else if (strcmp(a, "--standard") == 0)
			want_standard = true;
		else if (strcmp(a, "--layer") == 0 && has)
			q.layer = argv[++i];
		else if (strcmp(a, "--channels") == 0 && has)
			q.channels = argv[++i];
		else if (strcmp(a, "--consent") == 0 && has)
			q.consent = argv[++i];
		else if (strcmp(a, "--user") == 0 && has)
			q.user_id = argv[++i];
		else
			return command_usage(&cmd_lab);
	}
	if (want_standard == (q.layer != NULL) || (q.consent && q.user_id))
		return command_usage(&cmd_lab);
	struct sk_err err = {0};
	json_t *catalog = lab_catalog_load(lab_catalog_path(), handler_known, &err);
	if (!catalog)
		return command_fail(&cmd_lab, &err);
	if (want_standard)
		return standard(catalog);
	struct db_options opt = {.app_name = "scrollkeep-lab", .statement_timeout_ms = 30000};
	PGconn *conn = db_connect(cfg->database_url, &opt, &err);
	json_t *panel = NULL;
	if (conn && db_begin_as(conn, DB_ROLE_SERVICE, NULL, &err) == 0 &&
	    db_exec(conn, "SET TRANSACTION READ ONLY", 0, NULL, &err) == 0)
		panel = lab_plan(conn, catalog, handler_known, &q, &err);
	if (conn)
		PQfinish(conn);
	json_decref(catalog);
	if (!panel) {
		if (err.problem == PROBLEM_BAD_REQUEST)
			err.problem = PROBLEM_USAGE;
		return command_fail(&cmd_lab, &err);
	}
	if (as_json) {
		char *text = json_dumps(panel, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(text ? text : "{}");
		free(text);
	} else {
		print_panel(panel);
	}
	int rc = troubled(panel) ? 1 : 0;
	json_decref(panel);
	return rc;
}

const struct command cmd_lab = {
        .name = "lab",
        .usage = "--layer L [--channels a,b] [--consent p,q | --user ID] [--json] | --standard",
        .summary = "the live persistence lab: what a layer touches, and its risks now",
        .run = run,
};
