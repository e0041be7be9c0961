/*
 * migrate.c — scan, compare and apply supabase/migrations.
 */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "core/files.h"
#include "core/log.h"
#include "core/sqlscript.h"
#include "domain/audit.h"

/* Session-level advisory lock that serializes migrators ("skmigr" in ASCII). */
#define MIGRATE_LOCK_KEY "126905234319218"

/* ---- the files ---- */

int migration_parse_filename(const char *filename, char version[MIGRATION_VERSION_LEN + 1],
                             char name[MIGRATION_NAME_MAX])
{
	size_t len = strlen(filename);
	if (len < MIGRATION_VERSION_LEN + 2 + 4 || strcmp(filename + len - 4, ".sql") != 0)
		return -1;
	for (size_t i = 0; i < MIGRATION_VERSION_LEN; i++)
		if (!isdigit((unsigned char)filename[i]))
			return -1;
	if (filename[MIGRATION_VERSION_LEN] != '_')
		return -1;
	const char *n = filename + MIGRATION_VERSION_LEN + 1;
	size_t nlen = len - 4 - (MIGRATION_VERSION_LEN + 1);
	if (nlen == 0 || nlen >= MIGRATION_NAME_MAX)
		return -1;
	for (size_t i = 0; i < nlen; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '_' && n[i] != '-')
			return -1;
	memcpy(version, filename, MIGRATION_VERSION_LEN);
	version[MIGRATION_VERSION_LEN] = '\0';
	memcpy(name, n, nlen);
	name[nlen] = '\0';
	return 0;
}

static int by_version(const void *a, const void *b)
{
	return strcmp(((const struct migration *)a)->version,
	              ((const struct migration *)b)->version);
}

void migrations_free(struct migration_set *set)
{
	for (size_t i = 0; i < set->count; i++)
		free(set->items[i].text);
	free(set->items);
	set->items = NULL;
	set->count = 0;
}

int migrations_scan(const char *dir, struct migration_set *set, struct sk_err *err)
{
	set->items = NULL;
	set->count = 0;
	DIR *d = opendir(dir);
	if (!d)
		return err_set(err, PROBLEM_USAGE, "cannot open the migrations directory %s", dir);
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 4 || strcmp(e->d_name + len - 4, ".sql") != 0)
			continue;
		struct migration m = {0};
		if (migration_parse_filename(e->d_name, m.version, m.name) < 0) {
			err_set(err, PROBLEM_USAGE, "%s is not named <14-digit version>_<name>.sql",
			        e->d_name);
			goto fail;
		}
		char path[4096];
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path)) {
			err_set(err, PROBLEM_USAGE, "migration path too long");
			goto fail;
		}
		m.text = file_read_all(path, MIGRATION_FILE_MAX, &m.len, err);
		if (!m.text)
			goto fail;
		crypto_sha256_hex(m.text, m.len, m.sha256);
		if (set->count == cap) {
			cap = cap ? cap * 2 : 16;
			struct migration *grown = realloc(set->items, cap * sizeof(*grown));
			if (!grown) {
				free(m.text);
				err_set(err, PROBLEM_INTERNAL, "out of memory");
				goto fail;
			}
			set->items = grown;
		}
		set->items[set->count++] = m;
	}
	closedir(d);
	d = NULL;
	if (set->count > 1)
		qsort(set->items, set->count, sizeof(*set->items), by_version);
	for (size_t i = 1; i < set->count; i++)
		if (strcmp(set->items[i].version, set->items[i - 1].version) == 0) {
			err_set(err, PROBLEM_USAGE, "two migrations share version %s",
			        set->items[i].version);
			goto fail;
		}
	return 0;
fail:
	if (d)
		closedir(d);
	migrations_free(set);
	return -1;
}

const char *migration_state_name(enum migration_state state)
{
	switch (state) {
	case MIGRATION_APPLIED:
		return "applied";
	case MIGRATION_PENDING:
		return "pending";
	case MIGRATION_TAMPERED:
		return "tampered";
	case MIGRATION_UNVERIFIED:
		return "unverified";
	case MIGRATION_MISSING_FILE:
		return "missing-file";
	}
	return "unknown";
}

/* ---- the database side ---- */

static const char *const sql_owner = "SELECT pg_get_userbyid(d.datdba), current_user,"
                                     "       pg_has_role(current_user, d.datdba, 'MEMBER')"
                                     "  FROM pg_database d WHERE d.datname = current_database()";

int migrate_become_owner(PGconn *conn, struct sk_err *err)
{
	PGresult *res = db_query(conn, sql_owner, 0, NULL, err);
	if (!res)
		return -1;
	int rc = 0;
	if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1)) != 0 &&
	    strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
		const char *params[] = {PQgetvalue(res, 0, 0)};
		rc = db_exec(conn, "SELECT set_config('role', $1, false)", 1, params, err);
	}
	PQclear(res);
	return rc;
}

/* The runner's own bookkeeping, created before the first migration. The first table is the
 * Supabase CLI's, with exactly the columns it adds; the second is scrollkeep's. */
static const char *const sql_bookkeeping =
        "SET LOCAL lock_timeout = '10s';"
        "CREATE SCHEMA IF NOT EXISTS supabase_migrations;"
        "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations"
        "  (version text NOT NULL PRIMARY KEY);"
        "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[];"
        "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text;"
        "CREATE SCHEMA IF NOT EXISTS scrollkeep;"
        "REVOKE ALL ON SCHEMA scrollkeep FROM PUBLIC;"
        "CREATE TABLE IF NOT EXISTS scrollkeep.migration_files ("
        "  version text PRIMARY KEY,"
        "  name text NOT NULL,"
        "  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),"
        "  applied_at timestamptz NOT NULL DEFAULT now(),"
        "  applied_by text NOT NULL DEFAULT session_user);"
        "COMMENT ON TABLE scrollkeep.migration_files IS 'each applied migration file and its sha256';"
        "COMMENT ON COLUMN scrollkeep.migration_files.version IS 'operational: migration version';"
        "COMMENT ON COLUMN scrollkeep.migration_files.name IS 'operational: migration name';"
        "COMMENT ON COLUMN scrollkeep.migration_files.sha256 IS 'operational: sha256 of the file applied';"
        "COMMENT ON COLUMN scrollkeep.migration_files.applied_at IS 'operational: when';"
        "COMMENT ON COLUMN scrollkeep.migration_files.applied_by IS 'operational: database role that applied it';";

/* Readiness reads the migration level as service_role, once that role exists. */
static const char *const sql_grant_readers =
        "DO $$ BEGIN"
        "  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN"
        "    GRANT USAGE ON SCHEMA supabase_migrations TO service_role;"
        "    GRANT SELECT ON supabase_migrations.schema_migrations TO service_role;"
        "    GRANT SELECT ON scrollkeep.migration_files TO service_role;"
        "  END IF;"
        "END $$";

static const char *const sql_applied =
        "SELECT m.version, coalesce(m.name, ''), coalesce(f.sha256, ''),"
        "       to_char(coalesce(f.applied_at, NULL) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
        "  FROM supabase_migrations.schema_migrations m"
        "  LEFT JOIN scrollkeep.migration_files f ON f.version = m.version"
        " ORDER BY m.version";

static const char *const sql_has_bookkeeping =
        "SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL"
        "   AND to_regclass('scrollkeep.migration_files') IS NOT NULL";

static const char *const sql_record =
        "WITH cli AS (INSERT INTO supabase_migrations.schema_migrations (version, name, statements)"
        "             VALUES ($1, $2, ARRAY(SELECT jsonb_array_elements_text($3::jsonb))))"
        "INSERT INTO scrollkeep.migration_files (version, name, sha256) VALUES ($1, $2, $4)";

/* An applied migration is an operator event, once the trail exists (migration 009 creates it:
 * from then on, its own row included, each is in the same transaction as the migration). */
static int audit_applied(PGconn *conn, const struct migration *m, struct sk_err *err)
{
	PGresult *res = db_query(
	        conn, "SELECT to_regclass('public.admin_audit_events') IS NOT NULL", 0, NULL, err);
	if (!res)
		return -1;
	bool trail = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!trail)
		return 0;
	char actor[96];
	audit_default_actor(actor, sizeof(actor));
	json_t *details = json_pack("{s:s, s:s}", "name", m->name, "sha256", m->sha256);
	const struct audit_event ev = {.actor = actor,
	                               .actor_role = "operator",
	                               .action = "migration.applied",
	                               .subject_type = "migration",
	                               .subject_id = m->version,
	                               .details = details};
	int rc = details ? audit_append(conn, &ev, err)
	                 : err_set(err, PROBLEM_INTERNAL, "out of memory");
	json_decref(details);
	return rc;
}

static const struct migration *find_file(const struct migration_set *set, const char *version)
{
	for (size_t i = 0; i < set->count; i++)
		if (strcmp(set->items[i].version, version) == 0)
			return &set->items[i];
	return NULL;
}

static int push_status(struct migration_status **out, size_t *count, size_t *cap,
                       const struct migration_status *st)
{
	if (*count == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		struct migration_status *grown = realloc(*out, *cap * sizeof(*grown));
		if (!grown)
			return -1;
		*out = grown;
	}
	(*out)[(*count)++] = *st;
	return 0;
}

static int by_status_version(const void *a, const void *b)
{
	return strcmp(((const struct migration_status *)a)->version,
	              ((const struct migration_status *)b)->version);
}

int migrate_status(PGconn *conn, const struct migration_set *set, struct migration_status **out,
                   size_t *count, struct sk_err *err)
{
	*out = NULL;
	*count = 0;
	size_t cap = 0;
	PGresult *res = db_query(conn, sql_has_bookkeeping, 0, NULL, err);
	if (!res)
		return -1;
	bool has_tables = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	res = NULL;
	if (has_tables) {
		res = db_query(conn, sql_applied, 0, NULL, err);
		if (!res)
			return -1;
	}
	int rows = res ? PQntuples(res) : 0;
	for (int r = 0; r < rows; r++) {
		struct migration_status st = {0};
		snprintf(st.version, sizeof(st.version), "%s", PQgetvalue(res, r, 0));
		snprintf(st.name, sizeof(st.name), "%s", PQgetvalue(res, r, 1));
		snprintf(st.applied_at, sizeof(st.applied_at), "%s", PQgetvalue(res, r, 3));
		const char *recorded = PQgetvalue(res, r, 2);
		const struct migration *file = find_file(set, st.version);
		if (!file)
			st.state = MIGRATION_MISSING_FILE;
		else if (!*recorded)
			st.state = MIGRATION_UNVERIFIED;
		else if (strcmp(recorded, file->sha256) != 0)
			st.state = MIGRATION_TAMPERED;
		else
			st.state = MIGRATION_APPLIED;
		if (push_status(out, count, &cap, &st) < 0)
			goto oom;
	}
	for (size_t i = 0; i < set->count; i++) {
		bool applied = false;
		for (int r = 0; r < rows && !applied; r++)
			applied = strcmp(PQgetvalue(res, r, 0), set->items[i].version) == 0;
		if (applied)
			continue;
		struct migration_status st = {.state = MIGRATION_PENDING};
		snprintf(st.version, sizeof(st.version), "%s", set->items[i].version);
		snprintf(st.name, sizeof(st.name), "%s", set->items[i].name);
		if (push_status(out, count, &cap, &st) < 0)
			goto oom;
	}
	PQclear(res);
	if (*count > 1)
		qsort(*out, *count, sizeof(**out), by_status_version);
	return 0;
oom:
	PQclear(res);
	free(*out);
	*out = NULL;
	*count = 0;
	return err_set(err, PROBLEM_INTERNAL, "out of memory");
}

/* Refuse to go on when the applied history and the files disagree. */
static int check_history(const struct migration_status *st, size_t n, struct sk_err *err)
{
	const char *newest_applied = NULL;
	for (size_t i = 0; i < n; i++) {
		if (st[i].state == MIGRATION_TAMPERED)
			return err_set(
			        err, PROBLEM_FINDING,
			        "migration %s_%s.sql was changed after it was applied; restore "
			        "the file and put the change in a new migration",
			        st[i].version, st[i].name);
		if (st[i].state == MIGRATION_MISSING_FILE)
			return err_set(err, PROBLEM_FINDING,
			               "migration %s (%s) is applied but its file is missing",
			               st[i].version, st[i].name);
		if (st[i].state != MIGRATION_PENDING)
			newest_applied = st[i].version;
	}
	for (size_t i = 0; i < n; i++)
		if (st[i].state == MIGRATION_PENDING && newest_applied &&
		    strcmp(st[i].version, newest_applied) < 0)
			return err_set(
			        err, PROBLEM_FINDING,
			        "pending migration %s_%s.sql is older than applied %s; give it "
			        "a newer version",
			        st[i].version, st[i].name, newest_applied);
	return 0;
}

static double elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 +
	       (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

struct statements {
	json_t *list;
	bool transaction_control;
};

static int collect_statement(const char *text, size_t len, void *ctx)
{
	struct statements *st = ctx;
	if (sqlscript_is_transaction_control(text, len))
		st->transaction_control = true;
	json_t *s = json_stringn(text, len);
	if (!s)
		return 1; /* not UTF-8 */
	json_array_append_new(st->list, s);
	return 0;
}

/* The file's statements as a JSON array (for the Supabase CLI's statements column), after
 * refusing anything that would end the runner's transaction. The caller frees *json. */
static int read_statements(const struct migration *m, char **json, struct sk_err *err)
{
	struct statements st = {.list = json_array()};
	if (!st.list)
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	struct sk_err serr = {0};
	int rc = sqlscript_split(m->text, m->len, collect_statement, &st, &serr);
	if (rc < 0)
		err_set(err, PROBLEM_FINDING, "migration %s_%s.sql cannot be read: %s", m->version,
		        m->name, serr.detail);
	else if (rc > 0)
		err_set(err, PROBLEM_FINDING, "migration %s_%s.sql is not UTF-8", m->version,
		        m->name);
	else if (st.transaction_control)
		err_set(err, PROBLEM_FINDING,
		        "migration %s_%s.sql ends its own transaction; remove its BEGIN, COMMIT or "
		        "ROLLBACK (the runner wraps each file in one transaction)",
		        m->version, m->name);
	else if (!(*json = json_dumps(st.list, JSON_COMPACT)))
		err_set(err, PROBLEM_INTERNAL, "out of memory");
	json_decref(st.list);
	return rc != 0 || st.transaction_control || !*json ? -1 : 0;
}

/* Apply one file in its own transaction. A file's own error is reported with PostgreSQL's
 * message: it describes reviewed SQL, not anyone's data. */
static int apply_one(PGconn *conn, const struct migration *m, struct sk_err *err)
{
	char *statements = NULL;
	if (read_statements(m, &statements, err) < 0)
		return -1;
	if (db_exec(conn, "BEGIN", 0, NULL, err) < 0)
		goto fail;
	PGresult *res = PQexec(conn, m->text);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		err_set(err, PROBLEM_FINDING,
		        "migration %s_%s.sql failed and was rolled back: %s (%s)", m->version,
		        m->name, msg ? msg : PQerrorMessage(conn), state ? state : "?");
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	/* The splitter should have caught it; this is the backstop. */
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
		err_set(err, PROBLEM_FINDING, "migration %s_%s.sql ended the runner's transaction",
		        m->version, m->name);
		goto fail;
	}
	const char *params[] = {m->version, m->name, statements, m->sha256};
	if (db_exec(conn, sql_record, 4, params, err) < 0 || audit_applied(conn, m, err) < 0 ||
	    db_commit(conn, err) < 0)
		goto fail;
	free(statements);
	return 0;
fail:
	db_rollback(conn);
	free(statements);
	return -1;
}

int migrate_apply(PGconn *conn, const struct migration_set *set, migrate_applied_fn on_applied,
                  void *ctx, int *applied, struct sk_err *err)
{
	*applied = 0;
	struct migration_status *st = NULL;
	size_t n = 0;
	int rc = -1;
	if (migrate_become_owner(conn, err) < 0)
		return -1;
	if (db_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL, err) < 0)
		return -1;
	if (db_exec(conn, "BEGIN", 0, NULL, err) < 0 ||
	    db_exec_script(conn, sql_bookkeeping, err) < 0 || db_commit(conn, err) < 0) {
		db_rollback(conn);
		goto out;
	}
	if (migrate_status(conn, set, &st, &n, err) < 0 || check_history(st, n, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (st[i].state != MIGRATION_PENDING)
			continue;
		const struct migration *m = find_file(set, st[i].version);
		struct timespec start;
		clock_gettime(CLOCK_MONOTONIC, &start);
		if (apply_one(conn, m, err) < 0)
			goto out;
		(*applied)++;
		log_info("migration_applied", LF_STR("migration", m->version));
		if (on_applied)
			on_applied(m, elapsed_ms(&start), ctx);
	}
	if (db_exec_script(conn, sql_grant_readers, err) < 0)
		goto out;
	rc = 0;
out:
	free(st);
	{
		PGresult *res = PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");
		PQclear(res);
	}
	return rc;
}
