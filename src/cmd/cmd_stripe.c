/*
 * cmd_stripe.c — the Shop's operations:
 *
 *   scrollkeep stripe replay EVENT_ID|--failed|--since T
 *       re-run stored events through the one fulfillment path (no-ops where applied; works on
 *       events Stripe no longer keeps). EVENT_ID and --since re-run processed events too;
 *       --failed takes those that failed or were never processed. Exit 1 if any still fails.
 *   scrollkeep stripe reconcile [--days N]
 *       list the last N days' Checkout Sessions and undelivered events from the Stripe API,
 *       diff them with the local ledger, record the run and its mismatches
 *       (scrollkeep.stripe_reconcile_runs) and exit 1 on drift.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "core/db.h"
#include "core/json.h"
#include "domain/fulfill.h"
#include "domain/stripe_api.h"

/* ---- replay ---- */

static int replay_one(PGconn *conn, const char *row_id, const char *evt, const char *type,
                      bool force)
{
	struct sk_err err = {0};
	json_t *verdict = NULL;
	if (db_exec(conn, "BEGIN", 0, NULL, &err) == 0)
		verdict = fulfill_event(conn, atoll(row_id), force, &err);
	if (!verdict || db_commit(conn, &err) < 0) {
		db_rollback(conn);
		printf("%-32s %-42s error: %s\n", evt, type, err.detail);
		json_decref(verdict);
		return 1;
	}
	fulfill_wake(conn, &verdict, 1);
	const char *result = json_str(verdict, "result");
	printf("%-32s %-42s %s\n", evt, type, result ? result : "?");
	bool bad = result &&
	           (strncmp(result, "mismatch", 8) == 0 || strcmp(result, "unknown_session") == 0 ||
	            strcmp(result, "no_payment_intent") == 0);
	json_decref(verdict);
	return bad ? 1 : 0;
}

static int replay(PGconn *conn, int argc, char **argv)
{
	const char *sql;
	const char *param = NULL;
	bool force = true;
	if (argc == 3 && strcmp(argv[2], "--failed") == 0) {
		sql = "SELECT id, stripe_event_id, type FROM public.stripe_events"
		      " WHERE status IN ('failed', 'received', 'processing') ORDER BY id";
		force = false;
	} else if (argc == 4 && strcmp(argv[2], "--since") == 0) {
		sql = "SELECT id, stripe_event_id, type FROM public.stripe_events"
		      " WHERE first_received_at >= $1::timestamptz ORDER BY id";
		param = argv[3];
	} else if (argc == 3 && strncmp(argv[2], "evt_", 4) == 0) {
		sql = "SELECT id, stripe_event_id, type FROM public.stripe_events WHERE stripe_event_id = $1";
		param = argv[2];
	} else {
		return command_usage(&cmd_stripe);
	}
	struct sk_err err = {0};
	const char *params[] = {param};
	PGresult *res = db_query(conn, sql, param ? 1 : 0, params, &err);
	if (!res)
		return command_fail(&cmd_stripe, &err);
	int n = PQntuples(res), failed = 0;
	if (n == 0 && param && strncmp(param, "evt_", 4) == 0) {
		PQclear(res);
		err_set(&err, PROBLEM_FINDING, "no stored event %s", param);
		return command_fail(&cmd_stripe, &err);
	}
	for (int i = 0; i < n; i++)
		failed += replay_one(conn, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		                     PQgetvalue(res, i, 2), force);
	PQclear(res);
	printf("replay: %d event%s, %d failed\n", n, n == 1 ? "" : "s", failed);
	return failed ? 1 : 0;
}

/* ---- reconcile ---- */

/* Every object of a Stripe list endpoint from since on, following has_more. */
static json_t *list_all(const struct config *cfg, const char *path, const char *filter,
                        long long since, struct sk_err *err)
{
	json_t *all = json_array();
	char after[300] = "";
	for (int page = 0; page < 100; page++) {
		char url[900];
		snprintf(url, sizeof(url), "%s?limit=100&created%%5Bgte%%5D=%lld%s%s%s", path,
		         since, filter, after[0] ? "&starting_after=" : "", after);
		json_t *doc = stripe_api_get(cfg, url, err);
		if (!doc) {
			json_decref(all);
			return NULL;
		}
		json_t *data = json_object_get(doc, "data");
		size_t i;
		json_t *o;
		json_array_foreach(data, i, o) json_array_append(all, o);
		size_t n = json_array_size(data);
		const char *last = n ? json_str(json_array_get(data, n - 1), "id") : NULL;
		bool more = json_is_true(json_object_get(doc, "has_more")) && last;
		if (more)
			snprintf(after, sizeof(after), "%s", last);
		json_decref(doc);
		if (!more)
			break;
	}
	return all;
}

static void mismatch(json_t *list, const char *kind, const char *id, const char *local,
                     const char *stripe)
{
	json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "id", id,
	                                      "local", local, "stripe", stripe));
	printf("MISMATCH %-22s %-40s local=%s stripe=%s\n", kind, id, local, stripe);
}

/* What Stripe says a session's outcome is, in the ledger's words. */
static const char *stripe_outcome(const json_t *s)
{
	const char *status = json_str(s, "status"), *pay = json_str(s, "payment_status");
	if (!status)
		return "open";
	if (strcmp(status, "expired") == 0)
		return "expired";
	if (strcmp(status, "complete") == 0)
		return pay && strcmp(pay, "unpaid") != 0 ? "paid" : "pending";
	return "open";
}

static void compare_sessions(PGconn *conn, const json_t *sessions, json_t *found)
{
	size_t i;
	json_t *s;
	json_array_foreach(sessions, i, s)
	{
		const char *id = json_str(s, "id");
		const char *meta = json_str(json_object_get(s, "metadata"), "checkout");
		if (!id || !meta || strncmp(meta, "checkout:", 9) != 0)
			continue; /* not one scrollkeep opened */
		struct sk_err err = {0};
		const char *p[] = {id};
		PGresult *r = db_query(
		        conn,
		        "SELECT outcome FROM public.checkout_sessions WHERE stripe_checkout_session_id = $1",
		        1, p, &err);
		const char *theirs = stripe_outcome(s);
		if (!r || PQntuples(r) == 0) {
			mismatch(found, "session_not_local", id, "none", theirs);
		} else {
			const char *ours = PQgetvalue(r, 0, 0);
			bool drift = strcmp(theirs, "paid") == 0 ? strcmp(ours, "paid") != 0
			             : strcmp(ours, "paid") == 0
			                     ? strcmp(theirs, "paid") != 0
			                     : strcmp(theirs, "expired") == 0 &&
			                               strcmp(ours, "open") == 0;
			if (drift)
				mismatch(found, "session_outcome", id, ours, theirs);
		}
		PQclear(r);
	}
}

static void compare_events(PGconn *conn, const json_t *events, json_t *found)
{
	size_t i;
	json_t *e;
	json_array_foreach(events, i, e)
	{
		const char *id = json_str(e, "id");
		if (!id)
			continue;
		struct sk_err err = {0};
		const char *p[] = {id};
		PGresult *r = db_query(
		        conn, "SELECT status FROM public.stripe_events WHERE stripe_event_id = $1",
		        1, p, &err);
		if (!r || PQntuples(r) == 0)
			mismatch(found, "event_not_delivered", id, "none",
			         json_str(e, "type") ? json_str(e, "type") : "?");
		else if (strcmp(PQgetvalue(r, 0, 0), "failed") == 0)
			mismatch(found, "event_failed", id, "failed",
			         json_str(e, "type") ? json_str(e, "type") : "?");
		PQclear(r);
	}
}

static int reconcile(PGconn *conn, const struct config *cfg, int argc, char **argv)
{
	long days = 3;
	if (argc == 4 && strcmp(argv[2], "--days") == 0) {
		char *end;
		days = strtol(argv[3], &end, 10);
		if (*end || days < 1 || days > 400)
			return command_usage(&cmd_stripe);
	} else if (argc != 2) {
		return command_usage(&cmd_stripe);
	}
	struct sk_err err = {0};
	char days_s[16];
	snprintf(days_s, sizeof(days_s), "%ld", days);
	const char *dp[] = {days_s};
	PGresult *created = db_query(
	        conn,
	        "INSERT INTO scrollkeep.stripe_reconcile_runs (days) VALUES ($1::int) RETURNING id",
	        1, dp, &err);
	if (!created)
		return command_fail(&cmd_stripe, &err);
	char run_id[24];
	snprintf(run_id, sizeof(run_id), "%s", PQgetvalue(created, 0, 0));
	PQclear(created);
	long long since = (long long)time(NULL) - days * 86400;
	json_t *found = json_array();
	json_t *sessions = list_all(cfg, "/v1/checkout/sessions", "", since, &err);
	json_t *events =
	        sessions ? list_all(cfg, "/v1/events", "&delivery_success=false", since, &err)
	                 : NULL;
	if (sessions && events) {
		compare_sessions(conn, sessions, found);
		compare_events(conn, events, found);
	}
	char *mism = json_dumps(found, JSON_COMPACT);
	char ns[16], ne[16];
	snprintf(ns, sizeof(ns), "%zu", json_array_size(sessions));
	snprintf(ne, sizeof(ne), "%zu", json_array_size(events));
	const char *up[] = {run_id, ns, ne, mism ? mism : "[]", events ? NULL : err.detail};
	struct sk_err uerr = {0};
	db_exec(conn,
	        "UPDATE scrollkeep.stripe_reconcile_runs SET finished_at = now(), sessions_checked = $2::int,"
	        " events_checked = $3::int, mismatches = $4::jsonb, error = left($5, 500) WHERE id = $1",
	        5, up, &uerr);
	size_t nfound = json_array_size(found);
	free(mism);
	json_decref(found);
	json_decref(sessions);
	if (!events)
		return command_fail(&cmd_stripe, &err);
	json_decref(events);
	printf("reconcile: run %s, %s sessions and %s undelivered events over %ld days, %zu mismatch%s\n",
	       run_id, ns, ne, days, nfound, nfound == 1 ? "" : "es");
	return nfound ? 1 : 0;
}

static int run(int argc, char **argv, const struct config *cfg)
{
	if (argc < 2)
		return command_usage(&cmd_stripe);
	bool is_replay = strcmp(argv[1], "replay") == 0;
	if (!is_replay && strcmp(argv[1], "reconcile") != 0)
		return command_usage(&cmd_stripe);
	struct sk_err err = {0};
	struct db_options opt = {.app_name = "scrollkeep-stripe", .statement_timeout_ms = 60000};
	PGconn *conn = db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, &err);
	if (!conn)
		return command_fail(&cmd_stripe, &err);
	int rc = is_replay ? replay(conn, argc, argv) : reconcile(conn, cfg, argc, argv);
	PQfinish(conn);
	return rc;
}

const struct command cmd_stripe = {
        .name = "stripe",
        .usage = "replay EVENT_ID|--failed|--since T | reconcile [--days N]",
        .summary = "re-run stored Stripe events; diff the ledger with the Stripe API",
        .run = run,
};
