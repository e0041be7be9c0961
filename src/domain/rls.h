/*
 * rls.h — the database's security posture, read from the live catalogs: which schemas the
 * API exposes, the lints of Supabase's security advisor, and the RLS policy map.
 *
 * Supabase's own lints look only at the schemas PostgREST exposes (pgrst.db_schemas, set on
 * the authenticator role). Vanilla PostgreSQL has no such setting, so there the exposed
 * schemas default to "public", which is what PostgREST exposes when not told otherwise.
 */
#ifndef SK_RLS_H
#define SK_RLS_H

#include <libpq-fe.h>

#include "core/err.h"

#define RLS_SCHEMAS_MAX 256

/* The exposed schemas as a comma-separated list (for display) and as a PostgreSQL text[]
 * literal (for parameters). Returns -1 on a database error. */
int rls_exposed_schemas(PGconn *conn, char list[RLS_SCHEMAS_MAX], char array[RLS_SCHEMAS_MAX],
                        struct sk_err *err);

struct rls_finding {
	char lint[48];    /* rls_disabled_in_public, anon_privileges, … */
	char object[192]; /* public.table or schema.function(args) */
	char message[128];
};

/* Run every lint over the exposed schemas (array literal from rls_exposed_schemas). *out
 * (freed by the caller) holds the findings, sorted. Returns -1 on a database error. */
int rls_lint(PGconn *conn, const char *schemas_array, struct rls_finding **out, size_t *count,
             struct sk_err *err);

/* The names of every lint rls_lint runs, NULL-terminated (doctor prints one line each). */
extern const char *const rls_lint_names[];

/* Render the RLS policy map of the exposed schemas as Markdown into *out (freed by the
 * caller). Deterministic: the same catalogs give the same bytes. */
int rls_map_markdown(PGconn *conn, char **out, struct sk_err *err);

#endif
