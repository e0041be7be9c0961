/*
 * store.c — the content-addressed artifact store (see store.h).
 */
#include "store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/files.h"
#include "core/json.h"

static bool hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

bool store_path_valid(const char *path)
{
	if (!path)
		return false;
	size_t n = strlen(path);
	if (strncmp(path, "exports/", 8) == 0) {
		if (n != 8 + 36 + 5 || strcmp(path + n - 5, ".json") != 0)
			return false;
		char id[37];
		memcpy(id, path + 8, 36);
		id[36] = '\0';
		return json_is_uuid(id);
	}
	/* "ab/" + 64 hex + "." + ext */
	if (n < 3 + 64 + 4 || path[2] != '/' || path[3 + 64] != '.' || !hex_run(path, 2) ||
	    !hex_run(path + 3, 64) || strncmp(path, path + 3, 2) != 0)
		return false;
	const char *ext = path + 3 + 64 + 1;
	return strcmp(ext, "pdf") == 0 || strcmp(ext, "png") == 0 || strcmp(ext, "html") == 0 ||
	       strcmp(ext, "json") == 0;
}

static int ensure_dir(const char *path, struct sk_err *err)
{
	if (mkdir(path, 0750) == 0 || errno == EEXIST)
		return 0;
	return err_set(err, PROBLEM_UNAVAILABLE, "cannot create %s: %s", path, strerror(errno));
}

int store_put(const char *dir, const void *data, size_t len, const char *ext,
              struct store_file *out, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	crypto_sha256_hex(data, len, out->sha256);
	out->bytes = len;
	snprintf(out->path, sizeof(out->path), "%.2s/%s.%s", out->sha256, out->sha256, ext);
	if (!store_path_valid(out->path))
		return err_set(err, PROBLEM_INTERNAL, "unknown artifact extension");
	char sub[4096], full[4096];
	snprintf(sub, sizeof(sub), "%s/%.2s", dir, out->sha256);
	snprintf(full, sizeof(full), "%s/%s", dir, out->path);
	if (ensure_dir(dir, err) < 0 || ensure_dir(sub, err) < 0)
		return -1;
	/* The same content may be there already, under the same name: keep it if it still hashes
	 * right, rewrite it if it rotted. */
	size_t have_len;
	char have[SHA256_HEX_LEN + 1];
	struct sk_err ignored;
	char *have_data = file_read_all(full, STORE_FILE_MAX, &have_len, &ignored);
	if (have_data) {
		crypto_sha256_hex(have_data, have_len, have);
		free(have_data);
		if (strcmp(have, out->sha256) == 0)
			return 0;
	}
	return file_write_atomic(full, data, len, err);
}

char *store_get(const char *dir, const char *path, size_t *len, char sha256[SHA256_HEX_LEN + 1],
                struct sk_err *err)
{
	if (!store_path_valid(path)) {
		err_set(err, PROBLEM_BAD_REQUEST, "not a path of the artifact store");
		return NULL;
	}
	char full[4096];
	snprintf(full, sizeof(full), "%s/%s", dir, path);
	char *data = file_read_all(full, STORE_FILE_MAX, len, err);
	if (data)
		crypto_sha256_hex(data, *len, sha256);
	return data;
}

/* ---- what the database points to ---- */

struct paths {
	char **items;
	size_t count;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int referenced_paths(PGconn *conn, struct paths *p, struct sk_err *err)
{
	memset(p, 0, sizeof(*p));
	PGresult *res = db_query(conn, "SELECT scrollkeep.artifact_paths()", 0, NULL, err);
	if (!res)
		return -1;
	int rows = PQntuples(res);
	p->items = calloc((size_t)rows + 1, sizeof(char *));
	for (int r = 0; p->items && r < rows; r++)
		p->items[p->count++] = strdup(PQgetvalue(res, r, 0));
	PQclear(res);
	if (!p->items)
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	qsort(p->items, p->count, sizeof(char *), cmp_str);
	return 0;
}

static void paths_free(struct paths *p)
{
	for (size_t i = 0; i < p->count; i++)
		free(p->items[i]);
	free(p->items);
}

static bool referenced(const struct paths *p, const char *path)
{
	return bsearch(&path, p->items, p->count, sizeof(char *), cmp_str) != NULL;
}

int store_each_file(const char *dir, store_file_fn fn, void *ctx, struct sk_err *err)
{
	DIR *top = opendir(dir);
	if (!top)
		return errno == ENOENT ? 0
		                       : err_set(err, PROBLEM_UNAVAILABLE, "cannot read the store");
	struct dirent *d;
	while ((d = readdir(top))) {
		if (d->d_name[0] == '.')
			continue;
		char subdir[4096];
		snprintf(subdir, sizeof(subdir), "%s/%s", dir, d->d_name);
		DIR *sub = opendir(subdir);
		if (!sub)
			continue;
		struct dirent *f;
		while ((f = readdir(sub))) {
			if (f->d_name[0] == '.')
				continue;
			char rel[600], full[4700];
			snprintf(rel, sizeof(rel), "%s/%s", d->d_name, f->d_name);
			snprintf(full, sizeof(full), "%s/%s", dir, rel);
			struct stat st;
			if (lstat(full, &st) == 0 && S_ISREG(st.st_mode))
				fn(dir, rel, &st, ctx);
		}
		closedir(sub);
	}
	closedir(top);
	return 0;
}

struct sweep {
	const struct paths *keep;
	time_t older_than;
	int removed;
};

static void sweep_one(const char *dir, const char *rel, const struct stat *st, void *ctx)
{
	struct sweep *s = ctx;
	if (st->st_mtime > s->older_than || referenced(s->keep, rel))
		return;
	char full[4700];
	snprintf(full, sizeof(full), "%s/%s", dir, rel);
	if (unlink(full) == 0)
		s->removed++;
}

int store_sweep(const char *dir, PGconn *conn, int grace_s, int *removed, struct sk_err *err)
{
	*removed = 0;
	struct paths keep;
	if (referenced_paths(conn, &keep, err) < 0)
		return -1;
	struct sweep s = {&keep, time(NULL) - grace_s, 0};
	int rc = store_each_file(dir, sweep_one, &s, err);
	*removed = s.removed;
	paths_free(&keep);
	return rc;
}

/* ---- checking ---- */

struct check {
	struct store_problem *items;
	size_t count, cap;
	const struct paths *keep;
	time_t older_than;
	bool oom;
};

static void add_problem(struct check *c, const char *kind, const char *where)
{
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct store_problem *grown = realloc(c->items, cap * sizeof(*grown));
		if (!grown) {
			c->oom = true;
			return;
		}
		c->items = grown;
		c->cap = cap;
	}
	snprintf(c->items[c->count].kind, sizeof(c->items[0].kind), "%s", kind);
	snprintf(c->items[c->count].where, sizeof(c->items[0].where), "%s", where);
	c->count++;
}

static void check_orphan(const char *dir, const char *rel, const struct stat *st, void *ctx)
{
	(void)dir;
	struct check *c = ctx;
	if (st->st_mtime <= c->older_than && !referenced(c->keep, rel))
		add_problem(c, "orphan", rel);
}

static const char *const sql_ready =
        "SELECT id::text, storage_path, sha256 FROM public.oracle_artifacts"
        " WHERE storage_path IS NOT NULL ORDER BY id";

int store_check(const char *dir, PGconn *conn, int grace_s, struct store_problem **out,
                size_t *count, struct sk_err *err)
{
	*out = NULL;
	*count = 0;
	struct check c = {0};
	PGresult *res = db_query(conn, sql_ready, 0, NULL, err);
	if (!res)
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		size_t len;
		char sha[SHA256_HEX_LEN + 1];
		struct sk_err ferr;
		char *data = store_get(dir, PQgetvalue(res, r, 1), &len, sha, &ferr);
		if (!data)
			add_problem(&c, "missing", PQgetvalue(res, r, 0));
		else if (strcmp(sha, PQgetvalue(res, r, 2)) != 0)
			add_problem(&c, "mismatch", PQgetvalue(res, r, 0));
		free(data);
	}
	PQclear(res);
	struct paths keep;
	if (referenced_paths(conn, &keep, err) < 0) {
		free(c.items);
		return -1;
	}
	c.keep = &keep;
	c.older_than = time(NULL) - grace_s;
	int rc = store_each_file(dir, check_orphan, &c, err);
	paths_free(&keep);
	if (rc < 0 || c.oom) {
		free(c.items);
		return rc < 0 ? -1 : err_set(err, PROBLEM_INTERNAL, "out of memory");
	}
	*out = c.items;
	*count = c.count;
	return 0;
}
