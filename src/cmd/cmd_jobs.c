/*
 * cmd_jobs.c — `scrollkeep jobs list|show|retry|cancel|stats`: the support path for
 * deliveries. Every retry and cancel is audited with the operator (--actor, else
 * SCROLLKEEP_OPERATOR, else the login name) and the --reason, which is required.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "core/db.h"
#include "core/num.h"
#include "domain/audit.h"
#include "jobs/support.h"

struct jobs_args {
	struct jobs_filter filter;
	const char *reason;
	char actor[96];
	bool json;
	bool dead;
	const char *ref;
};

/* "90", "30s", "15m", "2h", "7d" -> seconds; -1 when malformed. */
static long parse_age(const char *text)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (end == text || v < 0)
		return -1;
	long mult = *end == '\0' || strcmp(end, "s") == 0 ? 1
	            : strcmp(end, "m") == 0               ? 60
	            : strcmp(end, "h") == 0               ? 3600
	            : strcmp(end, "d") == 0               ? 86400
	                                                  : -1;
	if (mult <= 0)
		return -1;
	return v > 100L * 365 * 86400 / mult ? -1 : v * mult;
}

static int parse(int argc, char **argv, struct jobs_args *a)
{
	static const struct option longopts[] = {{"kind", required_argument, NULL, 'k'},
	                                         {"status", required_argument, NULL, 's'},
	                                         {"user", required_argument, NULL, 'u'},
	                                         {"support-ref", required_argument, NULL, 'r'},
	                                         {"older-than", required_argument, NULL, 'o'},
	                                         {"limit", required_argument, NULL, 'l'},
	                                         {"reason", required_argument, NULL, 'R'},
	                                         {"actor", required_argument, NULL, 'a'},
	                                         {"json", no_argument, NULL, 'j'},
	                                         {"dead", no_argument, NULL, 'd'},
	                                         {NULL, 0, NULL, 0}};
	memset(a, 0, sizeof(*a));
	audit_default_actor(a->actor, sizeof(a->actor));
	a->filter.limit = 100;
	int c;
	optind = 2; /* argv[1] is the verb */
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			a->filter.kind = optarg;
			break;
		case 's':
			a->filter.status = optarg;
			break;
		case 'u':
			a->filter.user_id = optarg;
			break;
		case 'r':
			a->filter.support_ref = optarg;
			break;
		case 'o':
			a->filter.older_than_s = parse_age(optarg);
			if (a->filter.older_than_s < 0)
				return -1;
			break;
		case 'l': {
			long long n;
			if (num_parse(optarg, 1, 1000, &n) < 0)
				return -1;
			a->filter.limit = (int)n;
			break;
		}
		case 'R':
			a->reason = optarg;
			break;
		case 'a':
			snprintf(a->actor, sizeof(a->actor), "%s", optarg);
			break;
		case 'j':
			a->json = true;
			break;
		case 'd':
			a->dead = true;
			break;
		default:
			return -1;
		}
	}
	if (optind < argc)
		a->ref = argv[optind++];
	return optind == argc ? 0 : -1;
}

static void print_json(json_t *doc)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text)
		puts(text);
	free(text);
}

static const char *text_or(const json_t *obj, const char *key, const char *fallback)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : fallback;
}

static void print_list(json_t *doc)
{
	printf("%-8s %-13s %-22s %-9s %-5s %s\n", "ID", "SUPPORT REF", "KIND", "STATUS", "TRIES",
	       "LAST ERROR");
	size_t i;
	json_t *j;
	json_array_foreach(json_object_get(doc, "jobs"), i, j)
	{
		printf("%-8lld %-13s %-22s %-9s %2lld/%-2lld %s\n",
		       (long long)json_integer_value(json_object_get(j, "id")),
		       text_or(j, "support_ref", ""), text_or(j, "kind", ""),
		       text_or(j, "status", ""),
		       (long long)json_integer_value(json_object_get(j, "attempts")),
		       (long long)json_integer_value(json_object_get(j, "max_attempts")),
		       text_or(j, "last_error", ""));
	}
}

static void print_show(json_t *doc)
{
	const json_t *job = json_object_get(doc, "job");
	if (json_is_object(job)) {
		const char *keys[] = {"id",         "support_ref",  "kind",        "status",
		                      "attempts",   "max_attempts", "next_run_at", "deliver_by",
		                      "last_error", "created_at",   "finished_at"};
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			json_t *v = json_object_get(job, keys[k]);
			char *t = v && !json_is_null(v) && !json_is_string(v)
			                  ? json_dumps(v, JSON_ENCODE_ANY)
			                  : NULL;
			printf("%-13s %s\n", keys[k],
			       json_is_string(v) ? json_string_value(v)
			       : t               ? t
			                         : "-");
			free(t);
		}
	} else {
		printf("job           (pruned; its attempts remain)\n");
	}
	printf("\n%-4s %-27s %-14s %-24s %s\n", "RUN", "STARTED", "OUTCOME", "PROVIDER REF",
	       "ERROR");
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(doc, "attempts"), i, a)
	{
		printf("%-4lld %-27s %-14s %-24s %s\n",
		       (long long)json_integer_value(json_object_get(a, "attempt")),
		       text_or(a, "started_at", "-"), text_or(a, "outcome", "running"),
		       text_or(a, "provider_ref", "-"), text_or(a, "error", ""));
	}
}

static void print_stats(json_t *doc)
{
	printf("%-24s %6s %9s %7s %9s %5s %7s %9s %7s %s\n", "KIND", "DUE", "SCHEDULED", "RUNNING",
	       "SUCCEEDED", "DEAD", "UNKNOWN", "CANCELLED", "EXPIRED", "OLDEST DUE");
	size_t i;
	json_t *k;
	json_array_foreach(json_object_get(doc, "kinds"), i, k)
	{
		long long n[8];
		const char *cols[] = {"due",  "scheduled", "running",   "succeeded",
		                      "dead", "unknown",   "cancelled", "expired"};
		for (int c = 0; c < 8; c++)
			n[c] = json_integer_value(json_object_get(k, cols[c]));
		json_t *oldest = json_object_get(k, "oldest_due_seconds");
		char age[32] = "-";
		if (json_is_integer(oldest))
			snprintf(age, sizeof(age), "%llds", (long long)json_integer_value(oldest));
		printf("%-24s %6lld %9lld %7lld %9lld %5lld %7lld %9lld %7lld %s\n",
		       text_or(k, "kind", ""), n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], age);
	}
}

/* Run verb in one service_role transaction; print the answer. */
static int run_verb(const char *verb, PGconn *conn, struct jobs_args *a, struct sk_err *err)
{
	json_t *doc = NULL;
	int count = -1;
	bool mutating = strcmp(verb, "retry") == 0 || strcmp(verb, "cancel") == 0;
	if (mutating && (!a->reason || !*a->reason))
		return err_set(err, PROBLEM_USAGE, "%s needs --reason \"why\"", verb);
	if (mutating && a->dead != (a->ref == NULL))
		return err_set(err, PROBLEM_USAGE,
		               "%s takes one ID|SUPPORT_REF, or --dead --kind KIND", verb);
	if (mutating && a->dead && !a->filter.kind)
		return err_set(err, PROBLEM_USAGE, "--dead needs --kind");
	if (a->ref && !jobs_ref_valid(a->ref))
		return err_set(err, PROBLEM_USAGE, "%s is neither a job id nor a support reference",
		               a->ref);
	if (db_begin_as(conn, DB_ROLE_SERVICE, NULL, err) < 0)
		return -1;
	if (strcmp(verb, "list") == 0)
		doc = jobs_list(conn, &a->filter, err);
	else if (strcmp(verb, "stats") == 0)
		doc = jobs_stats(conn, err);
	else if (strcmp(verb, "show") == 0 && a->ref)
		doc = jobs_show(conn, a->ref, err);
	else if (strcmp(verb, "retry") == 0 && a->ref)
		doc = jobs_retry(conn, a->ref, a->actor, "operator", a->reason, err);
	else if (strcmp(verb, "cancel") == 0 && a->ref)
		doc = jobs_cancel(conn, a->ref, a->actor, "operator", a->reason, err);
	else if (strcmp(verb, "retry") == 0 &&
	         jobs_retry_dead(conn, a->filter.kind, a->actor, a->reason, &count, err) == 0)
		doc = json_pack("{s:s, s:i}", "retried_kind", a->filter.kind, "count", count);
	else if (strcmp(verb, "cancel") == 0 &&
	         jobs_cancel_dead(conn, a->filter.kind, a->actor, a->reason, &count, err) == 0)
		doc = json_pack("{s:s, s:i}", "cancelled_kind", a->filter.kind, "count", count);
	if (!doc || db_commit(conn, err) < 0) {
		json_decref(doc);
		db_rollback(conn);
		if (err->problem == PROBLEM_NONE)
			err_set(err, PROBLEM_USAGE, "%s needs ID|SUPPORT_REF", verb);
		return -1;
	}
	if (a->json)
		print_json(doc);
	else if (strcmp(verb, "list") == 0)
		print_list(doc);
	else if (strcmp(verb, "show") == 0)
		print_show(doc);
	else if (strcmp(verb, "stats") == 0)
		print_stats(doc);
	else if (count >= 0)
		printf("%s %d dead %s job%s\n",
		       strcmp(verb, "retry") == 0 ? "retried" : "cancelled", count, a->filter.kind,
		       count == 1 ? "" : "s");
	else
		printf("%s %s (%s): %s -> %s\n", text_or(doc, "support_ref", ""),
		       text_or(doc, "kind", ""), verb, text_or(doc, "from", ""),
		       text_or(doc, "status", ""));
	json_decref(doc);
	return 0;
}

static int run(int argc, char **argv, const struct config *cfg)
{
	static const char *const verbs[] = {"list", "show", "retry", "cancel", "stats"};
	const char *verb = argc > 1 ? argv[1] : NULL;
	bool known = false;
	for (size_t i = 0; verb && i < sizeof(verbs) / sizeof(verbs[0]); i++)
		known = known || strcmp(verb, verbs[i]) == 0;
	struct jobs_args a;
	if (!known || parse(argc, argv, &a) < 0)
		return command_usage(&cmd_jobs);
	struct sk_err err = {0};
	struct db_options opt = {.app_name = "scrollkeep-jobs", .statement_timeout_ms = 30000};
	PGconn *conn = db_connect(cfg->database_url, &opt, &err);
	if (!conn)
		return command_fail(&cmd_jobs, &err);
	int rc = run_verb(verb, conn, &a, &err) < 0 ? command_fail(&cmd_jobs, &err) : 0;
	PQfinish(conn);
	return rc;
}

const struct command cmd_jobs = {
        .name = "jobs",
        .usage = "list|show|retry|cancel|stats [ID|SUPPORT_REF] [--kind K] [--status S] [--user ID]"
                 " [--support-ref R] [--older-than AGE] [--limit N] [--dead] [--reason TEXT]"
                 " [--actor NAME] [--json]",
        .summary = "the support path for deliveries",
        .run = run,
};
