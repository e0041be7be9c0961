/*
 * rls.c — exposed schemas, security lints and the RLS policy map, all read from pg_catalog
 * (readable by any role, so these run as the login role without switching).
 */
#include "rls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/db.h"

/* pgrst.db_schemas from the authenticator role (Supabase sets it there; a setting for this
 * database wins over one for all), else from the session, else public. */
static const char *const sql_exposed =
        "WITH cfg AS ("
        "  SELECT substring(c FROM '^pgrst\\.db_schemas=(.*)$') AS v,"
        "         CASE WHEN s.setdatabase = 0 THEN 2 ELSE 1 END AS pri"
        "    FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole,"
        "         unnest(s.setconfig) c"
        "   WHERE r.rolname = 'authenticator' AND c LIKE 'pgrst.db_schemas=%'"
        "     AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))"
        "  UNION ALL SELECT nullif(current_setting('pgrst.db_schemas', true), ''), 3"
        "  UNION ALL SELECT 'public', 4"
        "), chosen AS (SELECT v FROM cfg WHERE v IS NOT NULL ORDER BY pri LIMIT 1),"
        " names AS (SELECT DISTINCT btrim(x) AS s FROM chosen, unnest(string_to_array(chosen.v, ',')) x"
        "           WHERE btrim(x) <> '')"
        "SELECT string_agg(s, ', ' ORDER BY s), array_agg(s ORDER BY s)::text FROM names";

int rls_exposed_schemas(PGconn *conn, char list[RLS_SCHEMAS_MAX], char array[RLS_SCHEMAS_MAX],
                        struct sk_err *err)
{
	PGresult *res = db_query(conn, sql_exposed, 0, NULL, err);
	if (!res)
		return -1;
	snprintf(list, RLS_SCHEMAS_MAX, "%s", PQgetvalue(res, 0, 0));
	snprintf(array, RLS_SCHEMAS_MAX, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

const char *const rls_lint_names[] = {
        "rls_disabled_in_public",  "policy_exists_rls_disabled",   "rls_enabled_no_policy",
        "security_definer_view",   "function_search_path_mutable", "anon_privileges",
        "api_role_bypassrls",      "login_role_superuser",         "login_role_inherits",
        "login_role_owns_objects", "login_role_privileges",        NULL,
};

/* Every lint in one statement; $1 is the exposed schemas as text[]. Objects that belong to
 * an extension are skipped, as Supabase's advisor does. */
static const char *const sql_lints =
        "WITH exposed AS (SELECT unnest($1::text[]) AS s),"
        " me AS (SELECT oid, rolname, rolsuper, rolinherit FROM pg_roles WHERE rolname = session_user),"
        " rels AS ("
        "  SELECT c.oid, c.relkind, c.relrowsecurity, c.reloptions, c.relowner, c.relacl,"
        "         format('%I.%I', n.nspname, c.relname) AS name"
        "    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "   WHERE n.nspname IN (SELECT s FROM exposed) AND c.relkind IN ('r','p','v','m','f','S')"
        "     AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')),"
        " procs AS ("
        "  SELECT p.oid, p.proconfig, n.nspname,"
        "         format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS name"
        "    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        "   WHERE (n.nspname IN (SELECT s FROM exposed) OR n.nspname = 'scrollkeep')"
        "     AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e'))"
        "SELECT 'rls_disabled_in_public', name, 'row level security is off'"
        "  FROM rels WHERE relkind IN ('r','p') AND NOT relrowsecurity "
        "UNION ALL SELECT 'policy_exists_rls_disabled', name, 'has policies but row level security is off'"
        "  FROM rels r WHERE relkind IN ('r','p') AND NOT relrowsecurity"
        "   AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = r.oid) "
        "UNION ALL SELECT 'rls_enabled_no_policy', name, 'row level security is on but no policy says who may use it'"
        "  FROM rels r WHERE relkind IN ('r','p') AND relrowsecurity"
        "   AND NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = r.oid) "
        "UNION ALL SELECT 'security_definer_view', name, 'the view runs with its owner''s rights (set security_invoker = true)'"
        "  FROM rels r WHERE relkind = 'v' AND NOT EXISTS ("
        "    SELECT FROM unnest(coalesce(r.reloptions, '{}')) o"
        "     WHERE lower(o) IN ('security_invoker=true','security_invoker=on','security_invoker=1','security_invoker=yes')) "
        "UNION ALL SELECT 'function_search_path_mutable', name, 'search_path is not fixed (SET search_path = '''')'"
        "  FROM procs WHERE NOT EXISTS (SELECT FROM unnest(coalesce(proconfig, '{}')) c WHERE c LIKE 'search_path=%') "
        "UNION ALL SELECT 'anon_privileges', name, 'anon holds privileges on it'"
        "  FROM rels r WHERE CASE WHEN relkind = 'S'"
        "    THEN has_sequence_privilege('anon', r.oid, 'USAGE,SELECT,UPDATE')"
        "    ELSE has_table_privilege('anon', r.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER')"
        "      OR has_any_column_privilege('anon', r.oid, 'SELECT,INSERT,UPDATE,REFERENCES') END "
        "UNION ALL SELECT 'anon_privileges', name, 'anon may execute it'"
        "  FROM procs WHERE nspname IN (SELECT s FROM exposed) AND has_function_privilege('anon', oid, 'EXECUTE') "
        "UNION ALL SELECT 'anon_privileges', 'schema scrollkeep', 'anon may use the private schema'"
        "  WHERE has_schema_privilege('anon', 'scrollkeep', 'USAGE') "
        "UNION ALL SELECT 'api_role_bypassrls', rolname::text, 'this API role bypasses row level security'"
        "  FROM pg_roles WHERE rolname IN ('anon', 'authenticated') AND rolbypassrls "
        "UNION ALL SELECT 'login_role_superuser', rolname::text, 'the login role is a superuser: row level security never applies to it'"
        "  FROM me WHERE rolsuper "
        "UNION ALL SELECT 'login_role_inherits', rolname::text, 'the login role inherits its roles'' privileges: make it NOINHERIT'"
        "  FROM me WHERE rolinherit AND NOT rolsuper AND pg_has_role(rolname, 'service_role', 'MEMBER') "
        "UNION ALL SELECT 'login_role_owns_objects', name, 'owned by the login role'"
        "  FROM rels, me WHERE relowner = me.oid AND NOT me.rolsuper "
        "UNION ALL SELECT DISTINCT 'login_role_privileges', name, 'the login role holds privileges on it directly'"
        "  FROM rels, me, aclexplode(relacl) a WHERE a.grantee = me.oid AND relowner <> me.oid "
        "ORDER BY 1, 2";

int rls_lint(PGconn *conn, const char *schemas_array, struct rls_finding **out, size_t *count,
             struct sk_err *err)
{
	*out = NULL;
	*count = 0;
	const char *params[] = {schemas_array};
	PGresult *res = db_query(conn, sql_lints, 1, params, err);
	if (!res)
		return -1;
	int rows = PQntuples(res);
	if (rows > 0) {
		*out = calloc((size_t)rows, sizeof(**out));
		if (!*out) {
			PQclear(res);
			return err_set(err, PROBLEM_INTERNAL, "out of memory");
		}
	}
	for (int r = 0; r < rows; r++) {
		struct rls_finding *f = &(*out)[r];
		snprintf(f->lint, sizeof(f->lint), "%s", PQgetvalue(res, r, 0));
		snprintf(f->object, sizeof(f->object), "%s", PQgetvalue(res, r, 1));
		snprintf(f->message, sizeof(f->message), "%s", PQgetvalue(res, r, 2));
	}
	*count = (size_t)rows;
	PQclear(res);
	return 0;
}

/* ---- the map ---- */

/* Each relation with its RLS flags and the privileges granted to anon, authenticated,
 * service_role and PUBLIC (grantee 0), in a fixed order. */
static const char *const sql_relations =
        "WITH privs(p, ord) AS (SELECT * FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE',"
        "                      'TRUNCATE','REFERENCES','TRIGGER']) WITH ORDINALITY)"
        "SELECT format('%I.%I', n.nspname, c.relname),"
        "       CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'"
        "                      WHEN 'p' THEN 'partitioned table' ELSE 'table' END,"
        "       c.relrowsecurity, c.relforcerowsecurity,"
        "       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid),"
        "       coalesce(g.anon, ''), coalesce(g.authenticated, ''), coalesce(g.service_role, ''),"
        "       coalesce(g.public, ''),"
        "       EXISTS (SELECT FROM unnest(coalesce(c.reloptions, '{}')) o"
        "               WHERE lower(o) IN ('security_invoker=true','security_invoker=on',"
        "                                  'security_invoker=1','security_invoker=yes'))"
        "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "  LEFT JOIN LATERAL ("
        "    SELECT string_agg(a.privilege_type, ', ' ORDER BY x.ord)"
        "             FILTER (WHERE r.rolname = 'anon') AS anon,"
        "           string_agg(a.privilege_type, ', ' ORDER BY x.ord)"
        "             FILTER (WHERE r.rolname = 'authenticated') AS authenticated,"
        "           string_agg(a.privilege_type, ', ' ORDER BY x.ord)"
        "             FILTER (WHERE r.rolname = 'service_role') AS service_role,"
        "           string_agg(a.privilege_type, ', ' ORDER BY x.ord)"
        "             FILTER (WHERE a.grantee = 0) AS public"
        "      FROM aclexplode(c.relacl) a"
        "      JOIN privs x ON x.p = a.privilege_type"
        "      LEFT JOIN pg_roles r ON r.oid = a.grantee) g ON true"
        " WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r','p','v','m')"
        "   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
        " ORDER BY 1";

static const char *const sql_policies =
        "SELECT format('%I.%I', n.nspname, c.relname), p.polname,"
        "       CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'"
        "                     WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,"
        "       CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END,"
        "       (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r)::text END, ', '"
        "                          ORDER BY CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r)::text END)"
        "          FROM unnest(p.polroles) r),"
        "       coalesce(pg_get_expr(p.polqual, p.polrelid), ''),"
        "       coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '')"
        "  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
        "  JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY($1::text[])"
        " ORDER BY 1, 2";

/* Append text fit for a Markdown table cell: pipes escaped, newlines folded. */
static void cell(struct buf *b, const char *text, bool code)
{
	if (!*text) {
		buf_puts(b, code ? "" : "—");
		return;
	}
	if (code)
		buf_puts(b, "`");
	for (const char *p = text; *p; p++) {
		if (*p == '|')
			buf_puts(b, "\\|");
		else if (*p == '\n' || *p == '\r' || *p == '\t')
			buf_puts(b, " ");
		else if (*p == '`' && code)
			buf_puts(b, "'");
		else
			buf_append(b, p, 1);
	}
	if (code)
		buf_puts(b, "`");
}

static const char *yes_no(PGresult *res, int row, int col, const char *yes, const char *no)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0 ? yes : no;
}

static void render_relations(struct buf *b, PGresult *res)
{
	buf_puts(
	        b,
	        "## Relations\n\n"
	        "| relation | kind | RLS | forced | policies | anon | authenticated | service_role | PUBLIC |\n"
	        "|---|---|---|---|---|---|---|---|---|\n");
	for (int r = 0; r < PQntuples(res); r++) {
		bool is_view = strcmp(PQgetvalue(res, r, 1), "view") == 0;
		buf_printf(b, "| %s | %s%s |", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
		           is_view ? yes_no(res, r, 9, " (security_invoker)", "") : "");
		if (is_view)
			buf_puts(b, " via base tables | — | — |");
		else
			buf_printf(b, " %s | %s | %s |", yes_no(res, r, 2, "on", "**off**"),
			           yes_no(res, r, 3, "yes", "no"), PQgetvalue(res, r, 4));
		for (int c = 5; c <= 8; c++) {
			buf_puts(b, " ");
			cell(b, PQgetvalue(res, r, c), false);
			buf_puts(b, " |");
		}
		buf_puts(b, "\n");
	}
}

static void render_policies(struct buf *b, PGresult *res)
{
	buf_puts(b, "\n## Policies\n");
	const char *current = "";
	for (int r = 0; r < PQntuples(res); r++) {
		const char *table = PQgetvalue(res, r, 0);
		if (strcmp(table, current) != 0) {
			buf_printf(b, "\n### %s\n\n", table);
			buf_puts(b, "| policy | command | kind | roles | using | with check |\n"
			            "|---|---|---|---|---|---|\n");
			current = table;
		}
		buf_printf(b, "| %s | %s | %s | %s | ", PQgetvalue(res, r, 1),
		           PQgetvalue(res, r, 2), PQgetvalue(res, r, 3), PQgetvalue(res, r, 4));
		cell(b, PQgetvalue(res, r, 5), true);
		buf_puts(b, " | ");
		cell(b, PQgetvalue(res, r, 6), true);
		buf_puts(b, " |\n");
	}
}

int rls_map_markdown(PGconn *conn, char **out, struct sk_err *err)
{
	*out = NULL;
	char list[RLS_SCHEMAS_MAX], array[RLS_SCHEMAS_MAX];
	if (rls_exposed_schemas(conn, list, array, err) < 0)
		return -1;
	const char *params[] = {array};
	PGresult *rels = db_query(conn, sql_relations, 1, params, err);
	if (!rels)
		return -1;
	PGresult *pols = db_query(conn, sql_policies, 1, params, err);
	if (!pols) {
		PQclear(rels);
		return -1;
	}
	struct buf b = {0};
	buf_printf(
	        &b,
	        "# Row Level Security policy map\n\n"
	        "Generated by `scrollkeep rls-map` from the live catalogs of a migrated database;\n"
	        "do not edit it by hand (`make docs` writes it, and `make test` fails when it is stale).\n\n"
	        "Exposed schemas: %s. Grants are listed for the three API roles and PUBLIC; the owner's\n"
	        "are left out. `service_role` has BYPASSRLS: its policies document intent, its grants\n"
	        "are what limit it. A view marked security_invoker applies its base tables' RLS to the\n"
	        "reader.\n\n",
	        list);
	render_relations(&b, rels);
	render_policies(&b, pols);
	PQclear(rels);
	PQclear(pols);
	*out = buf_take(&b);
	if (!*out)
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	return 0;
}
