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
#include "core/json.h"
#include "domain/audit.h"
#include "domain/migrate.h"
#include "domain/privacy.h"
#include "domain/rls.h"

#define TO_TEXT_(x) #x
#define TO_TEXT(x)  TO_TEXT_(x)

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

/* ---- launch criteria ---- */

/* The unique keys that money, delivery and forgetting rely on: without one, a retry can pay,
 * grant or send twice. (table, its key columns in alphabetical order.) */
static const char *const sql_unique_keys =
        "SELECT k.t || '(' || array_to_string(k.cols, ', ') || ')' FROM (VALUES"
        " ('stripe_events', ARRAY['stripe_event_id']),"
        " ('checkout_sessions', ARRAY['stripe_checkout_session_id']),"
        " ('checkout_sessions', ARRAY['idempotency_key']),"
        " ('payments', ARRAY['checkout_session_id']),"
        " ('payments', ARRAY['stripe_payment_intent_id']),"
        " ('entitlements', ARRAY['payment_id', 'product_id']),"
        " ('delivery_jobs', ARRAY['idempotency_key']),"
        " ('products', ARRAY['stripe_product_id']),"
        " ('prices', ARRAY['stripe_price_id']),"
        " ('purchase_links', ARRAY['slug']),"
        " ('consent_events', ARRAY['receipt_id']),"
        " ('email_messages', ARRAY['message_id']),"
        " ('erasure_tombstones', ARRAY['subject_hmac']),"
        " ('admin_audit_events', ARRAY['chain_seq'])) AS k(t, cols)"
        " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i"
        "   JOIN pg_catalog.pg_class c ON c.oid = i.indrelid"
        "   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        "  WHERE n.nspname = 'public' AND c.relname = k.t AND i.indisunique AND i.indisvalid"
        "    AND ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a"
        "               WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey)"
        "               ORDER BY a.attname) = k.cols)";

static int check_unique_keys(struct doctor_report *r, PGconn *conn)
{
	struct sk_err err = {0};
	PGresult *res = db_query(conn, sql_unique_keys, 0, NULL, &err);
	if (!res)
		return add(r, "launch", "unique_keys", DOCTOR_FINDING,
		           "cannot read the catalogs: %s", err.detail);
	int rc;
	if (PQntuples(res) == 0)
		rc = add(
		        r, "launch", "unique_keys", DOCTOR_OK,
		        "14 keys present (events, sessions, payments, entitlements, jobs, catalog, "
		        "receipts, messages, tombstones, audit)");
	else
		rc = add(r, "launch", "unique_keys", DOCTOR_FINDING, "%d missing, first %s",
		         PQntuples(res), PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/* Backups and drills leave their events in the trail (backup.c); doctor reads their age. */
#define BACKUP_MAX_AGE_HOURS 26
#define DRILL_MAX_AGE_DAYS   8

static int check_recoverability(struct doctor_report *r, PGconn *conn)
{
	struct sk_err err = {0};
	PGresult *res = db_query(
	        conn,
	        "SELECT to_char(max(occurred_at) FILTER (WHERE action = 'backup.completed')"
	        "               AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'),"
	        "       coalesce(max(occurred_at) FILTER (WHERE action = 'backup.completed')"
	        "                > now() - make_interval(hours => $1::int), false),"
	        "       to_char(max(occurred_at) FILTER (WHERE action = 'restore.drill_passed')"
	        "               AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'),"
	        "       coalesce(max(occurred_at) FILTER (WHERE action = 'restore.drill_passed')"
	        "                > now() - make_interval(days => $2::int), false),"
	        "       count(*) FILTER (WHERE action = 'restore.drill_failed'"
	        "                          AND occurred_at > now() - make_interval(days => $2::int))"
	        "  FROM public.admin_audit_events"
	        " WHERE action IN ('backup.completed', 'restore.drill_passed', 'restore.drill_failed')",
	        2,
	        (const char *const[]){TO_TEXT(BACKUP_MAX_AGE_HOURS), TO_TEXT(DRILL_MAX_AGE_DAYS)},
	        &err);
	if (!res)
		return add(r, "launch", "backups_recent", DOCTOR_FINDING,
		           "cannot read the trail: %s", err.detail);
	const char *backup = PQgetvalue(res, 0, 0), *drill = PQgetvalue(res, 0, 2);
	bool backup_ok = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	bool drill_ok = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	int rc = add(r, "launch", "backups_recent", backup_ok ? DOCTOR_OK : DOCTOR_FINDING,
	             "%s%s (within %d hours wanted)",
	             *backup ? "last backup " : "no backup recorded", backup, BACKUP_MAX_AGE_HOURS);
	if (rc == 0)
		rc = add(r, "launch", "restore_drill", drill_ok ? DOCTOR_OK : DOCTOR_FINDING,
		         "%s%s (within %d days wanted), %s failed since",
		         *drill ? "last drill passed " : "no drill passed", drill,
		         DRILL_MAX_AGE_DAYS, PQgetvalue(res, 0, 4));
	PQclear(res);
	return rc;
}

static int check_jobs(struct doctor_report *r, PGconn *conn)
{
	struct sk_err err = {0};
	PGresult *res = db_query(
	        conn,
	        "SELECT count(*) FILTER (WHERE status = 'dead'), count(*) FILTER (WHERE status = 'unknown'),"
	        "       coalesce(min(id)::text, '')"
	        "  FROM public.delivery_jobs WHERE status IN ('dead', 'unknown')",
	        0, NULL, &err);
	if (!res)
		return add(r, "launch", "jobs", DOCTOR_FINDING, "cannot read the queue: %s",
		           err.detail);
	bool none =
	        strcmp(PQgetvalue(res, 0, 0), "0") == 0 && strcmp(PQgetvalue(res, 0, 1), "0") == 0;
	int rc = none ? add(r, "launch", "jobs", DOCTOR_OK, "no dead or unknown jobs")
	              : add(r, "launch", "jobs", DOCTOR_FINDING,
	                    "%s dead, %s unknown, first job %s: scrollkeep jobs show %s",
	                    PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
	                    PQgetvalue(res, 0, 2));
	PQclear(res);
	return rc;
}

/* Writes that needed a consent they did not have (verify's missing_consent). */
static int check_consent(struct doctor_report *r, PGconn *conn)
{
	struct sk_err err = {0};
	PGresult *res =
	        db_query(conn,
	                 "SELECT count(*), coalesce(min(id), '') FROM scrollkeep.verify_findings()"
	                 " WHERE check_name = 'missing_consent'",
	                 0, NULL, &err);
	if (!res)
		return add(r, "launch", "consent", DOCTOR_FINDING, "cannot run the check: %s",
		           err.detail);
	int rc = strcmp(PQgetvalue(res, 0, 0), "0") == 0
	                 ? add(r, "launch", "consent", DOCTOR_OK,
	                       "every stamp, share, gift and e-mail had its consent")
	                 : add(r, "launch", "consent", DOCTOR_FINDING,
	                       "%s writes without their consent, first %s: run scrollkeep verify",
	                       PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
	return rc;
}

/* The configured secrets' values and the shapes of Stripe's, as scan probes (JSON). */
static json_t *secret_probes(void)
{
	json_t *probes = json_pack("[s, s, s, s, s]", "sk_live_", "sk_test_", "rk_live_",
	                           "rk_test_", "whsec_");
	for (size_t i = 0; probes && i < config_var_count; i++) {
		const char *v = config_vars[i].secret ? config_env(config_vars[i].name) : NULL;
		if (!v)
			continue;
		while (*v) {
			size_t n = strcspn(v, ",");
			json_array_append_new(probes, json_stringn(v, n));
			v += n + (v[n] == ',');
			while (*v == ' ')
				v++;
		}
	}
	return probes;
}

static int check_secrets(struct doctor_report *r, PGconn *conn)
{
	struct sk_err err = {0};
	json_t *probes = secret_probes();
	char *text = probes ? json_dumps(probes, JSON_COMPACT) : NULL;
	json_decref(probes);
	if (!text)
		return -1;
	const char *params[] = {text};
	PGresult *res = db_query(
	        conn,
	        "SELECT count(*), coalesce(min(table_schema || '.' || table_name || '.' || column_name), '')"
	        "  FROM scrollkeep.erasure_scan(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))",
	        1, params, &err);
	free(text);
	if (!res)
		return add(r, "launch", "secrets", DOCTOR_FINDING, "cannot scan: %s", err.detail);
	int rc = strcmp(PQgetvalue(res, 0, 0), "0") == 0
	                 ? add(r, "launch", "secrets", DOCTOR_OK,
	                       "no configured secret and no Stripe key shape in any column")
	                 : add(r, "launch", "secrets", DOCTOR_FINDING,
	                       "a secret is stored in %s column%s, first %s: remove and rotate it",
	                       PQgetvalue(res, 0, 0), strcmp(PQgetvalue(res, 0, 0), "1") ? "s" : "",
	                       PQgetvalue(res, 0, 1));
	PQclear(res);
	return rc;
}

static int check_launch(struct doctor_report *r, PGconn *conn)
{
	struct sk_err err = {0};
	if (db_begin_as(conn, DB_ROLE_SERVICE, NULL, &err) < 0)
		return add(r, "launch", "session", DOCTOR_FINDING, "%s", err.detail);
	int rc = check_unique_keys(r, conn);
	if (rc == 0)
		rc = check_recoverability(r, conn);
	if (rc == 0)
		rc = check_jobs(r, conn);
	if (rc == 0)
		rc = check_consent(r, conn);
	if (rc == 0)
		rc = check_secrets(r, conn);
	db_rollback(conn);
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
	if (rc == 0)
		rc = check_launch(report, conn);
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
