/*
 * backup.c — backup, restore and the restore drill (see backup.h).
 */
/* nftw() and its FTW_* flags are X/Open extensions. */
#define _XOPEN_SOURCE 700
#include "backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/db.h"
#include "core/files.h"
#include "domain/audit.h"
#include "domain/migrate.h"
#include "domain/privacy.h"
#include "domain/store.h"

extern char **environ;

#define BACKUP_FORMAT   "scrollkeep-backup/1"
#define BACKUP_DUMP     "database.dump"
#define BACKUP_FILE_MAX (8ull << 30) /* the dump, read whole to hash it */

/* ---- running pg_dump and pg_restore ---- */

/* The environment for a libpq tool connecting to url: the caller's, plus each connection
 * parameter of url as its PG* variable, so that no password appears on a command line. */
static char **tool_env(const char *url, struct sk_err *err)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &perr);
	if (!opts) {
		PQfreemem(perr);
		err_set(err, PROBLEM_USAGE, "the database URL does not parse");
		return NULL;
	}
	size_t n = 0, k = 0;
	while (environ[n])
		n++;
	size_t extra = 0;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		extra++;
	char **envp = calloc(n + extra + 1, sizeof(*envp));
	if (!envp) {
		PQconninfoFree(opts);
		err_set(err, PROBLEM_INTERNAL, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "PG", 2) != 0 &&
		    strncmp(environ[i], "DATABASE_URL=", 13) != 0 && (envp[k] = strdup(environ[i])))
			k++; /* a failed copy is skipped: a NULL would end the environment early */
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !o->envvar)
			continue;
		size_t len = strlen(o->envvar) + strlen(o->val) + 2;
		char *kv = malloc(len);
		if (!kv)
			continue;
		snprintf(kv, len, "%s=%s", o->envvar, o->val);
		envp[k++] = kv;
	}
	PQconninfoFree(opts);
	return envp;
}

static void env_free(char **envp)
{
	for (size_t i = 0; envp && envp[i]; i++)
		free(envp[i]);
	free(envp);
}

/* Run argv (a PostgreSQL tool) against url, its output into out_path when not NULL, and
 * wait for it. */
static int run_tool(char *const argv[], const char *url, const char *out_path, struct sk_err *err)
{
	char **envp = tool_env(url, err);
	if (!envp)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (out_path)
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path,
		                                 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	env_free(envp);
	if (rc != 0)
		return err_set(err, PROBLEM_UNAVAILABLE,
		               "cannot run %s (is postgresql-client installed?)", argv[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_set(err, PROBLEM_INTERNAL, "lost %s", argv[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return err_set(err, PROBLEM_UNAVAILABLE, "%s failed (exit %d)", argv[0],
		               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

/* Comment out the table of contents' entry that creates the public schema. */
static int drop_public_schema_entry(const char *list, struct sk_err *err)
{
	size_t len;
	char *text = file_read_all(list, 64u << 20, &len, err);
	if (!text)
		return -1;
	for (char *line = text; line && *line;) {
		char *end = strchr(line, '\n');
		if (end)
			*end = '\0';
		if (strstr(line, " SCHEMA - public ") && line[0] != ';')
			line[0] = ';';
		if (end)
			*end = '\n';
		line = end ? end + 1 : NULL;
	}
	int rc = file_write_atomic(list, text, len, err);
	free(text);
	return rc;
}

/* ---- the pieces of a manifest ---- */

static json_t *table_checksums(PGconn *conn, struct sk_err *err)
{
	PGresult *res = db_query(conn, "SELECT * FROM scrollkeep.table_checksums()", 0, NULL, err);
	if (!res)
		return NULL;
	json_t *tables = json_object();
	for (int i = 0; i < PQntuples(res); i++)
		json_object_set_new(tables, PQgetvalue(res, i, 0),
		                    json_pack("{s:I, s:s}", "rows",
		                              (json_int_t)atoll(PQgetvalue(res, i, 1)), "checksum",
		                              PQgetvalue(res, i, 2)));
	PQclear(res);
	return tables;
}

static int file_sha256(const char *path, char hex[SHA256_HEX_LEN + 1], size_t *len,
                       struct sk_err *err)
{
	char *data = file_read_all(path, BACKUP_FILE_MAX, len, err);
	if (!data)
		return -1;
	crypto_sha256_hex(data, *len, hex);
	free(data);
	return 0;
}

static void progress_bar(bool on, const char *what, size_t done, size_t total)
{
	if (!on || total == 0)
		return;
	int width = 30, filled = (int)((double)done / (double)total * width);
	fprintf(stderr, "\r%-10s [%.*s%*s] %zu/%zu", what, filled, "##############################",
	        width - filled, "", done, total);
	if (done == total)
		fputc('\n', stderr);
}

static void list_file(const char *dir, const char *rel, const struct stat *st, void *ctx)
{
	(void)dir;
	(void)st;
	if (store_path_valid(rel))
		json_array_append_new(ctx, json_string(rel));
}

/* The store's files as relative paths. */
static json_t *store_files(const char *dir, struct sk_err *err)
{
	json_t *files = json_array();
	if (store_each_file(dir, list_file, files, err) < 0) {
		json_decref(files);
		return NULL;
	}
	return files;
}

static int ensure_dirs_for(const char *root, const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", root);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	const char *slash = strchr(rel, '/');
	if (slash) {
		snprintf(path, sizeof(path), "%s/%.*s", root, (int)(slash - rel), rel);
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* Copy each of files (relative paths) from one store to another, hashing what was copied
 * into hashes[rel] (when hashes is not NULL). */
static int copy_files(const char *from, const char *to, const json_t *files, json_t *hashes,
                      bool progress, struct sk_err *err)
{
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f)
	{
		const char *rel = json_string_value(f);
		char src[PATH_MAX], dst[PATH_MAX], sha[SHA256_HEX_LEN + 1];
		snprintf(src, sizeof(src), "%s/%s", from, rel);
		snprintf(dst, sizeof(dst), "%s/%s", to, rel);
		size_t len;
		char *data = file_read_all(src, STORE_FILE_MAX, &len, err);
		if (!data)
			return -1;
		int rc = ensure_dirs_for(to, rel) < 0
		                 ? err_set(err, PROBLEM_UNAVAILABLE, "cannot create %s", to)
		                 : file_write_atomic(dst, data, len, err);
		crypto_sha256_hex(data, len, sha);
		free(data);
		if (rc < 0)
			return -1;
		if (hashes)
			json_object_set_new(hashes, rel, json_string(sha));
		progress_bar(progress, "artifacts", i + 1, json_array_size(files));
	}
	return 0;
}

static char *text_of(PGconn *conn, const char *sql, struct sk_err *err)
{
	PGresult *res = db_query(conn, sql, 0, NULL, err);
	if (!res)
		return NULL;
	char *out = strdup(PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	if (!out)
		err_set(err, PROBLEM_INTERNAL, "out of memory");
	return out;
}

/* ---- backup ---- */

/* A restore report in counts, small enough for the trail (details hold at most 4 KiB). */
static json_t *restore_summary(const json_t *report)
{
	const json_t *r = json_object_get(report, "restore");
	if (!r)
		r = report;
	json_t *s = json_pack(
	        "{s:b, s:I, s:I, s:I, s:I, s:I}", "ok", json_is_true(json_object_get(report, "ok")),
	        "tables_checked", json_integer_value(json_object_get(r, "tables_checked")),
	        "tables_differing",
	        (json_int_t)json_array_size(json_object_get(r, "tables_differing")),
	        "files_restored", json_integer_value(json_object_get(r, "files_restored")),
	        "files_differing",
	        (json_int_t)json_array_size(json_object_get(r, "files_differing")),
	        "forgotten_again", json_integer_value(json_object_get(r, "forgotten_again")));
	if (s && json_object_get(report, "canary_hits"))
		json_object_set(s, "canary_hits", json_object_get(report, "canary_hits"));
	return s;
}

/* Put action in the operator's trail of the database at url, in its own transaction: the
 * evidence doctor reads for "backups recent" and "a drill passed recently". Counts only. */
static int record_event(const char *url, const char *action, const json_t *details,
                        struct sk_err *err)
{
	struct db_options opt = {.app_name = "scrollkeep-backup"};
	PGconn *conn = db_connect(url, &opt, err);
	if (!conn)
		return -1;
	char actor[96];
	audit_default_actor(actor, sizeof(actor));
	const struct audit_event ev = {.actor = actor,
	                               .actor_role = "operator",
	                               .action = action,
	                               .subject_type = "database",
	                               .details = details};
	int rc = db_begin_as(conn, DB_ROLE_SERVICE, NULL, err) < 0 ||
	                         audit_append(conn, &ev, err) < 0 || db_commit(conn, err) < 0
	                 ? -1
	                 : 0;
	PQfinish(conn);
	return rc;
}

static int make_out_dir(const char *dir, struct sk_err *err)
{
	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return err_set(err, PROBLEM_USAGE, "cannot create %s", dir);
	DIR *d = opendir(dir);
	if (!d)
		return err_set(err, PROBLEM_USAGE, "%s is not a directory", dir);
	struct dirent *e;
	int entries = 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			entries++;
	closedir(d);
	return entries ? err_set(err, PROBLEM_USAGE, "%s is not empty", dir) : 0;
}

int backup_write(const struct config *cfg, const char *out_dir, bool progress, json_t **manifest,
                 struct sk_err *err)
{
	if (make_out_dir(out_dir, err) < 0)
		return -1;
	struct db_options opt = {.app_name = "scrollkeep-backup"};
	PGconn *conn = db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, err);
	if (!conn)
		return -1;
	/* One snapshot for the counts and the dump: pg_dump takes the exported one. */
	json_t *doc = NULL;
	char *snapshot = NULL, *owner = NULL, *level = NULL, *version = NULL;
	int rc = db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err);
	if (rc == 0 && (!(snapshot = text_of(conn, "SELECT pg_export_snapshot()", err)) ||
	                !(owner = text_of(conn,
	                                  "SELECT pg_get_userbyid(datdba) FROM pg_database"
	                                  " WHERE datname = current_database()",
	                                  err)) ||
	                !(level = text_of(conn,
	                                  "SELECT coalesce(max(version), '')"
	                                  "  FROM supabase_migrations.schema_migrations",
	                                  err)) ||
	                !(version = text_of(conn, "SELECT version()", err))))
		rc = -1;
	json_t *tables = rc == 0 ? table_checksums(conn, err) : NULL;
	if (!tables)
		rc = -1;
	/* The audit chain's head goes into the manifest, to check a copy against. */
	struct audit_chain chain = {0};
	if (rc == 0 && audit_chain_check(conn, &chain, err) < 0)
		rc = -1;
	char dump[PATH_MAX], snap_arg[128], role_arg[160], file_arg[PATH_MAX + 8];
	snprintf(dump, sizeof(dump), "%s/%s", out_dir, BACKUP_DUMP);
	if (rc == 0) {
		snprintf(snap_arg, sizeof(snap_arg), "--snapshot=%s", snapshot);
		snprintf(role_arg, sizeof(role_arg), "--role=%s", owner);
		snprintf(file_arg, sizeof(file_arg), "--file=%s", dump);
		char *argv[] = {"pg_dump",
		                "--format=custom",
		                snap_arg,
		                role_arg,
		                file_arg,
		                "--schema=public",
		                "--schema=scrollkeep",
		                "--schema=auth",
		                "--schema=supabase_migrations",
		                NULL};
		progress_bar(progress, "database", 0, 1);
		rc = run_tool(argv, cfg->database_url, NULL, err);
		progress_bar(progress && rc == 0, "database", 1, 1);
	}
	db_exec(conn, "COMMIT", 0, NULL, NULL);
	PQfinish(conn);
	json_t *files = json_object();
	char sha[SHA256_HEX_LEN + 1];
	size_t len;
	if (rc == 0 && file_sha256(dump, sha, &len, err) == 0) {
		json_object_set_new(files, BACKUP_DUMP, json_string(sha));
		char to[PATH_MAX];
		snprintf(to, sizeof(to), "%s/artifacts", out_dir);
		json_t *list = store_files(cfg->artifact_dir, err);
		json_t *hashes = json_object();
		rc = list ? copy_files(cfg->artifact_dir, to, list, hashes, progress, err) : -1;
		const char *rel;
		json_t *h;
		json_object_foreach(hashes, rel, h)
		{
			char key[600];
			snprintf(key, sizeof(key), "artifacts/%s", rel);
			json_object_set(files, key, h);
		}
		json_decref(list);
		json_decref(hashes);
	} else {
		rc = -1;
	}
	if (rc == 0) {
		doc = json_pack("{s:s, s:s, s:s, s:i, s:O, s:O}", "format", BACKUP_FORMAT,
		                "migration_level", level, "server_version", version,
		                "libpq_version", PQlibVersion(), "tables", tables, "files", files);
		char when[64];
		time_t now = time(NULL);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
		json_object_set_new(doc, "created_at", json_string(when));
		json_object_set_new(doc, "audit_chain",
		                    json_pack("{s:I, s:I, s:s}", "rows", (json_int_t)chain.rows,
		                              "head_seq", (json_int_t)chain.head_seq, "head_hash",
		                              chain.head_hash));
		char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/manifest.json", out_dir);
		rc = text ? file_write_atomic(path, text, strlen(text), err)
		          : err_set(err, PROBLEM_INTERNAL, "out of memory");
		free(text);
	}
	if (rc == 0) {
		json_t *details = json_pack("{s:s, s:I, s:I}", "migration_level", level, "tables",
		                            (json_int_t)json_object_size(tables), "files",
		                            (json_int_t)json_object_size(files));
		rc = record_event(cfg->database_url, "backup.completed", details, err);
		json_decref(details);
	}
	json_decref(tables);
	json_decref(files);
	free(snapshot);
	free(owner);
	free(level);
	free(version);
	if (rc == 0 && manifest)
		*manifest = doc;
	else
		json_decref(doc);
	return rc;
}

/* ---- restore ---- */

/* The manifest of from_dir, with every file it names hashing as it says. */
static json_t *read_manifest(const char *from_dir, struct sk_err *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/manifest.json", from_dir);
	size_t len;
	char *text = file_read_all(path, 64u << 20, &len, err);
	if (!text)
		return NULL;
	json_error_t jerr;
	json_t *m = json_loads(text, 0, &jerr);
	free(text);
	const char *format = json_string_value(json_object_get(m, "format"));
	if (!m || !format || strcmp(format, BACKUP_FORMAT) != 0 ||
	    !json_is_object(json_object_get(m, "files")) ||
	    !json_is_object(json_object_get(m, "tables"))) {
		json_decref(m);
		err_set(err, PROBLEM_BAD_REQUEST, "not a scrollkeep backup manifest");
		return NULL;
	}
	const char *rel;
	json_t *want;
	json_object_foreach(json_object_get(m, "files"), rel, want)
	{
		char sha[SHA256_HEX_LEN + 1];
		if (strstr(rel, "..") || rel[0] == '/') {
			json_decref(m);
			err_set(err, PROBLEM_BAD_REQUEST,
			        "the manifest names a path outside the backup");
			return NULL;
		}
		snprintf(path, sizeof(path), "%s/%s", from_dir, rel);
		struct sk_err ferr = {0};
		if (file_sha256(path, sha, &len, &ferr) < 0 ||
		    strcmp(sha, json_string_value(want) ? json_string_value(want) : "") != 0) {
			err_set(err, PROBLEM_BAD_REQUEST,
			        "the backup is damaged: %s does not match its hash", rel);
			json_decref(m); /* rel is m's */
			return NULL;
		}
	}
	return m;
}

/* The newest migration this build knows. */
static int known_level(const struct config *cfg, char out[MIGRATION_VERSION_LEN + 1],
                       struct sk_err *err)
{
	struct migration_set set = {0};
	if (migrations_scan(cfg->migrations_dir, &set, err) < 0)
		return -1;
	snprintf(out, MIGRATION_VERSION_LEN + 1, "%s",
	         set.count ? set.items[set.count - 1].version : "");
	migrations_free(&set);
	return 0;
}

/* Tables whose count or checksum differ from the manifest's. */
static json_t *compare_tables(const json_t *want, const json_t *have)
{
	json_t *diff = json_array();
	const char *name;
	json_t *w;
	json_object_foreach((json_t *)want, name, w)
	{
		json_t *h = json_object_get(have, name);
		if (!h || !json_equal(json_object_get(w, "rows"), json_object_get(h, "rows")) ||
		    !json_equal(json_object_get(w, "checksum"), json_object_get(h, "checksum")))
			json_array_append_new(diff, json_string(name));
	}
	return diff;
}

static int copy_tombstones(const struct config *cfg, PGconn *into, json_int_t *copied,
                           struct sk_err *err)
{
	struct db_options opt = {.app_name = "scrollkeep-restore"};
	PGconn *live = db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, err);
	if (!live)
		return -1;
	json_t *t = db_query_json(live,
	                          "SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]')"
	                          "  FROM scrollkeep.tombstones() t",
	                          0, NULL, err);
	PQfinish(live);
	if (!t)
		return -1;
	char *text = json_dumps(t, JSON_COMPACT);
	json_decref(t);
	if (!text)
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	const char *params[] = {text};
	PGresult *res =
	        db_query(into, "SELECT scrollkeep.add_tombstones($1::jsonb)", 1, params, err);
	free(text);
	if (!res)
		return -1;
	*copied = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int backup_restore(const struct config *cfg, const char *from_dir, const char *into_url,
                   const char *artifact_dir, bool tombstones_from_live, json_t **report,
                   struct sk_err *err)
{
	json_t *m = read_manifest(from_dir, err);
	if (!m)
		return -1;
	char known[MIGRATION_VERSION_LEN + 1];
	const char *level = json_string_value(json_object_get(m, "migration_level"));
	if (known_level(cfg, known, err) < 0 || !level) {
		json_decref(m);
		return -1;
	}
	if (strcmp(level, known) > 0) {
		err_set(err, PROBLEM_CONFLICT,
		        "the backup is at migration %s, newer than this build's %s", level, known);
		json_decref(m); /* level is m's */
		return -1;
	}
	struct db_options opt = {.app_name = "scrollkeep-restore"};
	PGconn *into = db_connect_as(into_url, &opt, DB_ROLE_SERVICE, err);
	if (!into) {
		json_decref(m);
		return -1;
	}
	char *tables = text_of(into,
	                       "SELECT count(*) FROM pg_tables WHERE schemaname IN"
	                       " ('public', 'scrollkeep', 'auth', 'supabase_migrations')",
	                       err);
	char *owner = text_of(into,
	                      "SELECT pg_get_userbyid(datdba) FROM pg_database"
	                      " WHERE datname = current_database()",
	                      err);
	char *dbname = text_of(into, "SELECT current_database()", err);
	int rc = (!tables || !owner || !dbname) ? -1 : 0;
	if (rc == 0 && strcmp(tables, "0") != 0)
		rc = err_set(err, PROBLEM_CONFLICT, "the database to restore into is not empty");
	if (rc == 0) {
		char role_arg[160], db_arg[160], dump[PATH_MAX], list[PATH_MAX],
		        list_arg[PATH_MAX + 16];
		snprintf(role_arg, sizeof(role_arg), "--role=%s", owner);
		snprintf(db_arg, sizeof(db_arg), "--dbname=%s", dbname);
		snprintf(dump, sizeof(dump), "%s/%s", from_dir, BACKUP_DUMP);
		snprintf(list, sizeof(list), "%s/.restore-list.%d", artifact_dir, (int)getpid());
		snprintf(list_arg, sizeof(list_arg), "--use-list=%s", list);
		/* Everything but the public schema itself, which the empty database has already
		 * (with its default privileges, which a dump does not carry). */
		char *list_argv[] = {"pg_restore", "--list", dump, NULL};
		if (mkdir(artifact_dir, 0700) < 0 && errno != EEXIST)
			rc = err_set(err, PROBLEM_UNAVAILABLE, "cannot create %s", artifact_dir);
		if (rc == 0)
			rc = run_tool(list_argv, into_url, list, err);
		if (rc == 0)
			rc = drop_public_schema_entry(list, err);
		/* The rest of the connection (host, user, password) comes from the environment. */
		char *argv[] = {"pg_restore",
		                "--no-owner",
		                "--single-transaction",
		                "--exit-on-error",
		                "--no-password",
		                role_arg,
		                db_arg,
		                list_arg,
		                dump,
		                NULL};
		if (rc == 0)
			rc = run_tool(argv, into_url, NULL, err);
		unlink(list);
	}
	free(tables);
	free(owner);
	free(dbname);
	json_t *have = rc == 0 ? table_checksums(into, err) : NULL;
	json_t *out = NULL;
	struct audit_chain chain = {0};
	if (have && audit_chain_check(into, &chain, err) < 0) {
		json_decref(have);
		have = NULL;
	}
	if (have) {
		/* The restored trail must hold and end where the backup's did. */
		const json_t *want_chain = json_object_get(m, "audit_chain");
		const char *want_hash = json_string_value(json_object_get(want_chain, "head_hash"));
		bool chain_ok = chain.broken_seq == 0 && want_hash &&
		                json_integer_value(json_object_get(want_chain, "head_seq")) ==
		                        chain.head_seq &&
		                strcmp(want_hash, chain.head_hash) == 0;
		json_t *diff = compare_tables(json_object_get(m, "tables"), have);
		json_t *files = json_array(), *bad = json_array();
		const char *rel;
		json_t *want;
		json_object_foreach(json_object_get(m, "files"), rel,
		                    want) if (strncmp(rel, "artifacts/", 10) == 0)
		        json_array_append_new(files, json_string(rel + 10));
		char from[PATH_MAX];
		snprintf(from, sizeof(from), "%s/artifacts", from_dir);
		json_t *hashes = json_object();
		rc = copy_files(from, artifact_dir, files, hashes, false, err);
		json_object_foreach(json_object_get(m, "files"), rel, want)
		{
			if (strncmp(rel, "artifacts/", 10) == 0 &&
			    !json_equal(want, json_object_get(hashes, rel + 10)))
				json_array_append_new(bad, json_string(rel));
		}
		json_int_t copied = 0;
		int forgotten = 0, failed = 0;
		if (rc == 0 && tombstones_from_live)
			rc = copy_tombstones(cfg, into, &copied, err);
		struct config target = *cfg;
		target.artifact_dir = artifact_dir;
		if (rc == 0)
			rc = privacy_reapply_tombstones(into, &target, &forgotten, &failed, err);
		out = json_pack("{s:s, s:I, s:o, s:I, s:o, s:I, s:i, s:i}", "migration_level",
		                level, "tables_checked", (json_int_t)json_object_size(have),
		                "tables_differing", diff, "files_restored",
		                (json_int_t)json_array_size(files), "files_differing", bad,
		                "tombstones_copied", copied, "forgotten_again", forgotten,
		                "still_found", failed);
		json_object_set_new(out, "audit_chain_matches", json_boolean(chain_ok));
		json_object_set_new(out, "ok",
		                    json_boolean(rc == 0 && json_array_size(diff) == 0 &&
		                                 json_array_size(bad) == 0 && failed == 0 &&
		                                 chain_ok));
		json_decref(files);
		json_decref(hashes);
		json_decref(have);
	} else {
		rc = -1;
	}
	PQfinish(into);
	json_decref(m);
	if (rc == 0 && json_is_true(json_object_get(out, "ok"))) {
		json_t *summary = restore_summary(out);
		rc = record_event(into_url, "restore.completed", summary, err);
		json_decref(summary);
	}
	if (rc == 0 && report)
		*report = out;
	else
		json_decref(out);
	return rc;
}

/* ---- the drill ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Remove dir and everything under it, depth first, never following a symbolic link. */
static int remove_tree(const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) < 0)
		return 0;
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int empty_copy(const char *url, struct sk_err *err)
{
	struct db_options opt = {.app_name = "scrollkeep-drill"};
	PGconn *conn = db_connect(url, &opt, err);
	if (!conn)
		return -1;
	int rc = migrate_become_owner(conn, err);
	if (rc == 0)
		rc = db_exec(conn, "DROP OWNED BY CURRENT_USER", 0, NULL, err);
	PQfinish(conn);
	return rc;
}

int backup_drill(const struct config *cfg, const char *into_url, json_t **report,
                 struct sk_err *err)
{
	struct db_options opt = {.app_name = "scrollkeep-drill"};
	PGconn *conn = db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, err);
	if (!conn)
		return -1;
	char *canary = text_of(conn, "SELECT scrollkeep.drill_canary()", err);
	if (!canary) {
		PQfinish(conn);
		return -1;
	}
	char work[] = "/tmp/scrollkeep-drill.XXXXXX";
	if (!mkdtemp(work)) {
		free(canary);
		PQfinish(conn);
		return err_set(err, PROBLEM_UNAVAILABLE, "cannot create a directory for the drill");
	}
	char backup_dir[PATH_MAX], store_dir[PATH_MAX];
	snprintf(backup_dir, sizeof(backup_dir), "%s/backup", work);
	snprintf(store_dir, sizeof(store_dir), "%s/store", work);
	int rc = backup_write(cfg, backup_dir, false, NULL, err);
	/* Forgotten after the backup: the restore must forget the canary again. */
	json_t *forgot = NULL;
	if (rc == 0) {
		const char *params[] = {canary};
		json_t *r = db_query_json(
		        conn, "SELECT to_jsonb(scrollkeep.request_deletion($1, 'support', '0'))", 1,
		        params, err);
		const char *id = json_string_value(json_object_get(r, "id"));
		rc = id ? privacy_forget_run(conn, cfg, id, &forgot, err) : -1;
		json_decref(r);
	}
	PQfinish(conn);
	json_t *restored = NULL;
	if (rc == 0)
		rc = backup_restore(cfg, backup_dir, into_url, store_dir, true, &restored, err);
	json_t *out = NULL;
	if (rc == 0) {
		/* The canary must be nowhere in the copy. */
		PGconn *copy = db_connect_as(into_url, &opt, DB_ROLE_SERVICE, err);
		json_t *proof = NULL;
		if (copy) {
			struct config target = *cfg;
			target.artifact_dir = store_dir;
			proof = privacy_proof(copy, &target, canary, err);
			PQfinish(copy);
		}
		if (!proof) {
			rc = -1;
		} else {
			json_int_t hits = json_integer_value(json_object_get(proof, "hits"));
			out = json_pack("{s:O, s:I, s:b}", "restore", restored, "canary_hits", hits,
			                "canary_forgotten_again",
			                json_integer_value(
			                        json_object_get(restored, "forgotten_again")) >= 1);
			json_object_set_new(out, "ok",
			                    json_boolean(hits == 0 && json_is_true(json_object_get(
			                                                      restored, "ok"))));
			json_decref(proof);
		}
	}
	json_decref(restored);
	json_decref(forgot);
	remove_tree(work);
	/* Empty the throwaway copy again, so that the drill can run on a schedule: everything
	 * the restore made belongs to the database's owner. */
	if (rc == 0 && empty_copy(into_url, err) < 0)
		rc = -1;
	if (rc == 0) {
		bool ok = json_is_true(json_object_get(out, "ok"));
		json_t *summary = restore_summary(out);
		rc = record_event(cfg->database_url,
		                  ok ? "restore.drill_passed" : "restore.drill_failed", summary,
		                  err);
		json_decref(summary);
	}
	free(canary);
	if (rc == 0 && report)
		*report = out;
	else
		json_decref(out);
	return rc;
}
