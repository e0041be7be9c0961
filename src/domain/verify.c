/*
 * verify.c — the checks behind `scrollkeep verify` (see verify.h). Each check is one function
 * that returns its items; adding a check is adding a function and a line in checks[].
 */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"

#include "domain/audit.h"
#include "domain/privacy.h"
#include "domain/store.h"

typedef int (*check_fn)(PGconn *conn, const struct config *cfg, json_t *items, struct sk_err *err);

static int check_orphan_artifact(PGconn *conn, const struct config *cfg, json_t *items,
                                 struct sk_err *err)
{
	struct store_problem *found;
	size_t n;
	if (store_check(cfg->artifact_dir, conn, 3600, &found, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(items, json_pack("{s:s, s:s}", "problem", found[i].kind, "id",
		                                       found[i].where));
	free(found);
	return 0;
}

static int check_privacy_deadline(PGconn *conn, const struct config *cfg, json_t *items,
                                  struct sk_err *err)
{
	(void)cfg;
	return privacy_deadlines(conn, items, err);
}

static int check_audit_chain(PGconn *conn, const struct config *cfg, json_t *items,
                             struct sk_err *err)
{
	(void)cfg;
	struct audit_chain chain;
	if (audit_chain_check(conn, &chain, err) < 0)
		return -1;
	if (chain.broken_seq) {
		char id[48];
		snprintf(id, sizeof(id), "admin_audit_event:%lld", chain.broken_id);
		json_array_append_new(items,
		                      json_pack("{s:s, s:s, s:I}", "problem", chain.problem, "id",
		                                id, "seq", (json_int_t)chain.broken_seq));
	}
	return 0;
}

/* The checks on rows alone are one SQL function (migration 017); a check without a function
 * of its own takes its findings from there by name. */
static const struct {
	const char *name;
	check_fn run;
} checks[] = {
        {"payment_without_entitlement", NULL},
        {"entitlement_without_payment", NULL},
        {"undelivered_purchase", NULL},
        {"lost_delivery", NULL},
        {"duplicate_payment", NULL},
        {"orphan_artifact", check_orphan_artifact},
        {"missing_consent", NULL},
        {"public_private_leak", NULL},
        {"stripe_event_stuck", NULL},
        {"privacy_deadline", check_privacy_deadline},
        {"audit_chain", check_audit_chain},
};

static json_t *sql_findings(PGconn *conn, struct sk_err *err)
{
	return db_query_json(conn,
	                     "SELECT coalesce(jsonb_agg(jsonb_build_object('check', check_name,"
	                     " 'problem', problem, 'id', id) ORDER BY check_name, id), '[]')"
	                     "  FROM scrollkeep.verify_findings()",
	                     0, NULL, err);
}

static void add_sql_items(const json_t *found, const char *name, json_t *items)
{
	size_t i;
	json_t *f;
	json_array_foreach(found, i, f)
	{
		if (strcmp(json_string_value(json_object_get(f, "check")), name) == 0)
			json_array_append_new(items, json_pack("{s:O, s:O}", "problem",
			                                       json_object_get(f, "problem"), "id",
			                                       json_object_get(f, "id")));
	}
}

json_t *verify_run(PGconn *conn, const struct config *cfg, struct sk_err *err)
{
	json_t *found = sql_findings(conn, err);
	if (!found)
		return NULL;
	json_t *list = json_array();
	int findings = 0;
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		json_t *items = json_array();
		if (!checks[i].run)
			add_sql_items(found, checks[i].name, items);
		else if (checks[i].run(conn, cfg, items, err) < 0) {
			json_decref(items);
			json_decref(list);
			json_decref(found);
			return NULL;
		}
		size_t n = json_array_size(items);
		findings += n > 0;
		json_array_append_new(list, json_pack("{s:s, s:i, s:o}", "name", checks[i].name,
		                                      "count", (int)n, "items", items));
	}
	json_decref(found);
	return json_pack("{s:o, s:i}", "checks", list, "findings", findings);
}
