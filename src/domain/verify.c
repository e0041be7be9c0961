/*
 * verify.c — the checks behind `scrollkeep verify` (see verify.h). Each check is one function
 * that returns its items; adding a check is adding a function and a line in checks[].
 */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>

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

static const struct {
	const char *name;
	check_fn run;
} checks[] = {
        {"orphan_artifact", check_orphan_artifact},
        {"privacy_deadline", check_privacy_deadline},
        {"audit_chain", check_audit_chain},
};

json_t *verify_run(PGconn *conn, const struct config *cfg, struct sk_err *err)
{
	json_t *list = json_array();
	int findings = 0;
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		json_t *items = json_array();
		if (checks[i].run(conn, cfg, items, err) < 0) {
			json_decref(items);
			json_decref(list);
			return NULL;
		}
		size_t n = json_array_size(items);
		findings += n > 0;
		json_array_append_new(list, json_pack("{s:s, s:i, s:o}", "name", checks[i].name,
		                                      "count", (int)n, "items", items));
	}
	return json_pack("{s:o, s:i}", "checks", list, "findings", findings);
}
