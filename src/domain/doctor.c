/*
 * doctor.c — the checks behind `scrollkeep doctor`.
 */
#include "doctor.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "domain/audit.h"
#include "domain/migrate.h"
#include "domain/privacy.h"
#include "domain/rls.h"

const char *doctor_status_name(enum doctor_status status)
{
	switch (status) {
	case DOCTOR_OK:
		return "ok";
	case DOCTOR_INFO:
		return "info";
	case DOCTOR_FINDING:
		return "finding";
	}
	return "?";
}

__attribute__((format(printf, 5, 6))) static int add(struct doctor_report *r, const char *area,
                                                     const char *name, enum doctor_status status,
                                                     const char *fmt, ...)
{
	if (r->count == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct doctor_item *grown = realloc(r->items, cap * sizeof(*grown));
		if (!grown)
			return -1;
		r->items = grown;
		r->cap = cap;
	}
	struct doctor_item *it = &r->items[r->count++];
	snprintf(it->area, sizeof(it->area), "%s", area);
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->status = status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
	va_end(ap);
	if (status == DOCTOR_FINDING)
		r->findings++;
	return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool is_http_url(const char *v)
{
	return has_prefix(v, "https://") || has_prefix(v, "http://");
}

/* A reason the value is malformed, or NULL when it looks right. Never quotes the value. */
static const char *malformed(const char *name, const char *v)
{
	if (strcmp(name, "DATABASE_URL") == 0) {
		char *msg = NULL;
		PQconninfoOption *opts = PQconninfoParse(v, &msg);
		PQfreemem(msg);
		if (!opts)
			return "is not a PostgreSQL connection URL";
		PQconninfoFree(opts);
		return NULL;
	}
	if (strcmp(name, "SUPABASE_JWT_SECRET") == 0)
		return strlen(v) < 32 ? "is shorter than 32 characters" : NULL;
	if (strcmp(name, "SUPABASE_SERVICE_ROLE_KEY") == 0) {
		const char *dot1 = strchr(v, '.');
		const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
		return dot2 && !strchr(dot2 + 1, '.') ? NULL : "is not a JWT";
	}
	if (strcmp(name, "NEXT_PUBLIC_SITE_URL") == 0 ||
	    strcmp(name, "NEXT_PUBLIC_SUPABASE_URL") == 0 || strcmp(name, "STRIPE_API_BASE") == 0 ||
	    strcmp(name, "AI_API_URL") == 0)
		return is_http_url(v) ? NULL : "is not an http(s) URL";
	if (strcmp(name, "STRIPE_SECRET_KEY") == 0)
		return has_prefix(v, "sk_") || has_prefix(v, "rk_")
		               ? NULL
		               : "is not a Stripe secret key (sk_…)";
	if (strcmp(name, "STRIPE_WEBHOOK_SECRET") == 0) {
		const char *p = v;
		while (p) {
			while (*p == ' ')
				p++;
			if (!has_prefix(p, "whsec_"))
				return "is not one or two webhook secrets (whsec_…, comma-separated)";
			p = strchr(p, ',');
			if (p)
				p++;
		}
		return NULL;
	}
	if (strcmp(name, "SMTP_URL") == 0)
		return has_prefix(v, "smtp://") || has_prefix(v, "smtps://")
		               ? NULL
		               : "is not an smtp:// or smtps:// URL";
	if (strcmp(name, "MAIL_FROM") == 0)
		return strchr(v, '@') ? NULL : "is not an e-mail address";
	return NULL;
}

static int check_env(struct doctor_report *r)
{
	for (size_t i = 0; i < config_var_count; i++) {
		const struct config_var *var = &config_vars[i];
		const char *v = config_env(var->name);
		const char *bad = v ? malformed(var->name, v) : NULL;
		int rc;
		if (bad)
			rc = add(r, "env", var->name, DOCTOR_FINDING, "set, but %s", bad);
		else if (v)
			rc = add(r, "env", var->name, DOCTOR_OK, "set");
		else if (var->default_value)
			rc = add(r, "env", var->name, DOCTOR_OK, "default (%s)",
			         var->default_value);
		else if (var->required)
			rc = add(r, "env", var->name, DOCTOR_FINDING, "missing: needed for %s",
			         var->needed_for);
		else
			rc = add(r, "env", var->name, DOCTOR_INFO, "missing: %s is off",
			         var->needed_for);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int check_migrations(struct doctor_report *r, PGconn *conn, const struct config *cfg)
{
	struct sk_err err = {0};
	struct migration_set set;
	if (migrations_scan(cfg->migrations_dir, &set, &err) < 0)
		return add(r, "migrations", "files", DOCTOR_FINDING, "%s", err.detail);
	struct migration_status *st = NULL;
	size_t n = 0;
	int rc;
	if (db_begin_as(conn, DB_ROLE_SERVICE, NULL, &err) < 0 ||
	    migrate_status(conn, &set, &st, &n, &err) < 0) {
		rc = add(r, "migrations", "level", DOCTOR_FINDING,
		         "cannot read the migration level: %s", err.detail);
	} else {
		size_t applied = 0, pending = 0, bad = 0;
		for (size_t i = 0; i < n; i++) {
			if (st[i].state == MIGRATION_PENDING)
				pending++;
			else if (st[i].state == MIGRATION_TAMPERED ||
			         st[i].state == MIGRATION_MISSING_FILE)
				bad++;
			else
				applied++;
		}
		if (pending || bad)
			rc = add(
			        r, "migrations", "level", DOCTOR_FINDING,
			        "%zu applied, %zu pending, %zu changed or missing: run scrollkeep migrate --status",
			        applied, pending, bad);
		else
			rc = add(r, "migrations", "level", DOCTOR_OK, "%zu applied, none pending",
			         applied);
	}
	db_rollback(conn);
	free(st);
	migrations_free(&set);
	return rc;
}

static int check_lints(struct doctor_report *r, PGconn *conn)
{
	struct sk_err err = {0};
	char array[RLS_SCHEMAS_MAX];
	struct rls_finding *found = NULL;
	size_t n = 0;
	if (rls_exposed_schemas(conn, r->exposed_schemas, array, &err) < 0 ||
	    rls_lint(conn, array, &found, &n, &err) < 0)
		return add(r, "lint", "catalogs", DOCTOR_FINDING, "cannot read the catalogs: %s",
		           err.detail);
	int rc = 0;
	for (const char *const *lint = rls_lint_names; *lint && rc == 0; lint++) {
		bool any = false;
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (strcmp(found[i].lint, *lint) != 0)
				continue;
			any = true;
			rc = add(r, "lint", *lint, DOCTOR_FINDING, "%s: %s", found[i].object,
			         found[i].message);
		}
		if (!any && rc == 0)
			rc = add(r, "lint", *lint, DOCTOR_OK, "clean");
	}
	free(found);
	return rc;
}

/* The audit chain's head, to compare with a copy kept outside the database (and written into
 * every backup manifest): a broken chain is a finding. */
static int check_audit(struct doctor_report *r, PGconn *conn)
{
	struct sk_err err = {0};
	struct audit_chain chain;
	int rc;
	if (db_begin_as(conn, DB_ROLE_SERVICE, NULL, &err) < 0 ||
	    audit_chain_check(conn, &chain, &err) < 0)
		rc = add(r, "audit", "chain", DOCTOR_FINDING, "cannot walk the chain: %s",
		         err.detail);
	else if (chain.broken_seq)
		rc = add(r, "audit", "chain", DOCTOR_FINDING,
		         "broken at seq %lld (row id %lld, %s): run scrollkeep audit verify",
		         chain.broken_seq, chain.broken_id, chain.problem);
	else
		rc = add(r, "audit", "chain", DOCTOR_OK, "%lld rows intact, head %lld %s",
		         chain.rows, chain.head_seq, chain.head_seq ? chain.head_hash : "(empty)");
	db_rollback(conn);
	return rc;
}

/* Data-subject requests past their legal due date, or close to it (privacy.h). */
static int check_privacy(struct doctor_report *r, PGconn *conn)
{
	struct sk_err err = {0};
	json_t *items = json_array();
	int rc;
	if (!items)
		return -1;
	if (db_begin_as(conn, DB_ROLE_SERVICE, NULL, &err) < 0 ||
	    privacy_deadlines(conn, items, &err) < 0) {
		rc = add(r, "privacy", "deadlines", DOCTOR_FINDING, "cannot read the requests: %s",
		         err.detail);
	} else {
		size_t overdue = 0, i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			const char *problem = json_string_value(json_object_get(it, "problem"));
			overdue += strcmp(problem, "overdue") == 0;
		}
		size_t soon = json_array_size(items) - overdue;
		rc = overdue || soon
		             ? add(r, "privacy", "deadlines", DOCTOR_FINDING,
		                   "%zu request%s overdue, %zu due within %d days: run scrollkeep verify",
		                   overdue, overdue == 1 ? "" : "s", soon, PRIVACY_DUE_SOON_DAYS)
		             : add(r, "privacy", "deadlines", DOCTOR_OK,
		                   "no request overdue or due within %d days",
		                   PRIVACY_DUE_SOON_DAYS);
	}
	db_rollback(conn);
	json_decref(items);
	return rc;
}

int doctor_run(const struct config *cfg, struct doctor_report *report, struct sk_err *err)
{
	memset(report, 0, sizeof(*report));
	if (check_env(report) < 0)
		goto oom;
	struct db_options opt = {.app_name = "scrollkeep-doctor", .statement_timeout_ms = 30000};
	struct sk_err dberr = {0};
	PGconn *conn = cfg->database_url ? db_connect(cfg->database_url, &opt, &dberr) : NULL;
	if (!conn) {
		if (add(report, "database", "reachable", DOCTOR_FINDING, "%s",
		        cfg->database_url ? dberr.detail : "DATABASE_URL is not set") < 0)
			goto oom;
		return 0;
	}
	int rc = add(report, "database", "reachable", DOCTOR_OK, "PostgreSQL %d",
	             PQserverVersion(conn));
	if (rc == 0)
		rc = check_migrations(report, conn, cfg);
	if (rc == 0)
		rc = check_lints(report, conn);
	if (rc == 0)
		rc = check_audit(report, conn);
	if (rc == 0)
		rc = check_privacy(report, conn);
	PQfinish(conn);
	if (rc < 0)
		goto oom;
	return 0;
oom:
	doctor_report_free(report);
	return err_set(err, PROBLEM_INTERNAL, "out of memory");
}

void doctor_report_free(struct doctor_report *report)
{
	free(report->items);
	memset(report, 0, sizeof(*report));
}
