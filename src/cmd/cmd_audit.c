/*
 * cmd_audit.c — `scrollkeep audit verify|tail`: the operator's trail.
 *
 * verify walks the whole hash chain and names the first row that does not hold (exit 1), or
 * prints the head — the sequence number and hash to keep outside the database, against which
 * a rewritten tail shows. tail prints the latest events, oldest first, and with --follow keeps
 * printing new ones until SIGINT or SIGTERM. Events hold ids and reasons, never personal data.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "core/db.h"
#include "core/json.h"
#include "domain/audit.h"

/* One JSON value on one line (JSON Lines, for tools that follow the output). */
static void print_json_line(const json_t *v)
{
	if (v && json_dumpf(v, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0)
		fputc('\n', stdout);
}

static PGconn *connect_service(const struct config *cfg, struct sk_err *err)
{
	struct db_options opt = {.app_name = "scrollkeep-audit", .statement_timeout_ms = 300000};
	return db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, err);
}

static int verify(int argc, char **argv, const struct config *cfg)
{
	bool as_json = false;
	if (command_json_only(&cmd_audit, argc - 1, argv + 1, &as_json) != 0)
		return 2;
	struct sk_err err = {0};
	struct audit_chain chain;
	PGconn *conn = connect_service(cfg, &err);
	int rc = conn ? audit_chain_check(conn, &chain, &err) : -1;
	PQfinish(conn);
	if (rc < 0)
		return command_fail(&cmd_audit, &err);
	bool intact = chain.broken_seq == 0;
	if (as_json) {
		json_t *out = json_pack("{s:I, s:I, s:s, s:b}", "rows", (json_int_t)chain.rows,
		                        "head_seq", (json_int_t)chain.head_seq, "head_hash",
		                        chain.head_hash, "intact", intact);
		if (out && !intact)
			json_object_update_new(out,
			                       json_pack("{s:I, s:I, s:s}", "broken_seq",
			                                 (json_int_t)chain.broken_seq, "broken_id",
			                                 (json_int_t)chain.broken_id, "problem",
			                                 chain.problem));
		print_json_line(out);
		json_decref(out);
	} else if (intact) {
		printf("audit: %lld rows, chain intact; head %lld %s\n", chain.rows, chain.head_seq,
		       chain.head_seq ? chain.head_hash : "(empty)");
	} else {
		const char *why = strcmp(chain.problem, "gap") == 0 ? "a row before it is missing"
		                  : strcmp(chain.problem, "link") == 0
		                          ? "its prev_hash is not the "
		                            "hash of the row before it"
		                          : "its content does not match "
		                            "its hash";
		printf("audit: chain broken at seq %lld (row id %lld): %s\n", chain.broken_seq,
		       chain.broken_id, why);
	}
	return intact ? 0 : 1;
}

/* One event as a line: seq, time, actor (role), action, subject, reason, details. */
static void print_event(const json_t *e, bool as_json)
{
	if (as_json) {
		print_json_line(e);
		return;
	}
	const char *subject_type = json_str(e, "subject_type");
	const char *subject_id = json_str(e, "subject_id");
	const char *reason = json_str(e, "reason");
	char *details = json_dumps(json_object_get(e, "details"), JSON_COMPACT | JSON_SORT_KEYS);
	printf("%-6lld %s  %s (%s)  %s  %s%s%s%s%s%s  %s\n",
	       (long long)json_integer_value(json_object_get(e, "seq")),
	       json_str(e, "occurred_at") ? json_str(e, "occurred_at") : "?", json_str(e, "actor"),
	       json_str(e, "actor_role"), json_str(e, "action"), subject_type ? subject_type : "-",
	       subject_id ? ":" : "", subject_id ? subject_id : "", reason ? "  reason=\"" : "",
	       reason ? reason : "", reason ? "\"" : "", details ? details : "{}");
	free(details);
}

/* Print the events of f; *last becomes the highest sequence number printed. */
static int print_page(PGconn *conn, const struct audit_filter *f, bool as_json, long long *last,
                      struct sk_err *err)
{
	json_t *page = audit_list(conn, f, err);
	if (!page)
		return -1;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(page, "events"), i, e)
	{
		print_event(e, as_json);
		long long seq = (long long)json_integer_value(json_object_get(e, "seq"));
		if (seq > *last)
			*last = seq;
	}
	json_decref(page);
	fflush(stdout);
	return 0;
}

static int tail(int argc, char **argv, const struct config *cfg)
{
	static const struct option longopts[] = {{"limit", required_argument, NULL, 'l'},
	                                         {"action", required_argument, NULL, 'a'},
	                                         {"follow", no_argument, NULL, 'f'},
	                                         {"json", no_argument, NULL, 'j'},
	                                         {NULL, 0, NULL, 0}};
	struct audit_filter f = {.limit = 20};
	bool follow = false, as_json = false;
	int c;
	optind = 2; /* argv[1] is the verb */
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		if (c == 'l') {
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 1000)
				return command_usage(&cmd_audit);
			f.limit = (int)n;
		} else if (c == 'a') {
			f.action = optarg;
		} else if (c == 'f') {
			follow = true;
		} else if (c == 'j') {
			as_json = true;
		} else {
			return command_usage(&cmd_audit);
		}
	}
	if (optind != argc)
		return command_usage(&cmd_audit);

	/* A stop is awaited with sigtimedwait, which is also the pause between two polls. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	if (follow)
		sigprocmask(SIG_BLOCK, &stop, NULL);

	struct sk_err err = {0};
	PGconn *conn = connect_service(cfg, &err);
	long long last = 0;
	int rc = conn ? print_page(conn, &f, as_json, &last, &err) : -1;
	f.limit = 1000;
	while (rc == 0 && follow) {
		struct timespec pause = {.tv_sec = 1};
		if (sigtimedwait(&stop, NULL, &pause) > 0)
			break;
		f.after = last;
		rc = print_page(conn, &f, as_json, &last, &err);
	}
	PQfinish(conn);
	return rc < 0 ? command_fail(&cmd_audit, &err) : 0;
}

static int run(int argc, char **argv, const struct config *cfg)
{
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return verify(argc, argv, cfg);
	if (argc >= 2 && strcmp(argv[1], "tail") == 0)
		return tail(argc, argv, cfg);
	return command_usage(&cmd_audit);
}

const struct command cmd_audit = {
        .name = "audit",
        .usage = "verify [--json] | tail [--limit N] [--action NOUN.VERB] [--follow] [--json]",
        .summary = "the operator's trail: verify its hash chain, or show its latest events",
        .run = run,
};
