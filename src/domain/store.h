/*
 * store.h — the artifact store: files under ARTIFACT_DIR, named by their content
 * ("ab/abcdef…64 hex….pdf"), written atomically (a temporary file, fsync, rename, fsync of the
 * directory). A row of the database points to each file with its sha256 and size, written in
 * the same transaction that marks the artifact ready; a crash between the file and the
 * commit leaves a file no row points to, which the sweeper removes after a grace period.
 */
#ifndef SK_STORE_H
#define SK_STORE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/crypto.h"
#include "core/err.h"

#define STORE_PATH_MAX 96
#define STORE_FILE_MAX (32u << 20) /* no artifact is larger */

struct store_file {
	char path[STORE_PATH_MAX]; /* relative to the store: "ab/<sha256>.<ext>" */
	char sha256[SHA256_HEX_LEN + 1];
	size_t bytes;
};

/* Whether path is one the store writes: "xx/<64 hex>.(pdf|png|html|json)" with xx the hash's
 * first two digits, or "exports/<uuid>.json". Nothing else is ever opened. */
bool store_path_valid(const char *path);

/* Store data under its content's name with extension ext (pdf, png, html, json). Storing the
 * same content twice writes once. PROBLEM_UNAVAILABLE when the disk refuses (full). */
int store_put(const char *dir, const void *data, size_t len, const char *ext,
              struct store_file *out, struct sk_err *err);

/* Read a stored file (the caller frees it) and hash what was read. PROBLEM_NOT_FOUND when it
 * is missing; PROBLEM_BAD_REQUEST for a path the store would never write. */
char *store_get(const char *dir, const char *path, size_t *len, char sha256[SHA256_HEX_LEN + 1],
                struct sk_err *err);

struct stat;

/* Call fn for each regular file in the store's two-level layout ("ab/…", and "exports/…"),
 * with its path relative to dir; dot files (a write in progress) are skipped. A store that
 * does not exist yet has no files. */
typedef void (*store_file_fn)(const char *dir, const char *rel, const struct stat *st, void *ctx);
int store_each_file(const char *dir, store_file_fn fn, void *ctx, struct sk_err *err);

/* Remove every file (and leftover temporary file) older than grace_s that no row points to
 * (scrollkeep.artifact_paths()). conn runs as service_role. *removed counts them. */
int store_sweep(const char *dir, PGconn *conn, int grace_s, int *removed, struct sk_err *err);

struct store_problem {
	char kind[16];   /* missing, mismatch, orphan */
	char where[128]; /* an artifact id, or a path in the store */
};

/* The store against the database: rows whose file is missing or hashes differently, and files
 * (older than grace_s) that no row points to. *out (freed by the caller) lists them. */
int store_check(const char *dir, PGconn *conn, int grace_s, struct store_problem **out,
                size_t *count, struct sk_err *err);

#endif
