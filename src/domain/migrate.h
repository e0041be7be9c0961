/*
 * migrate.h — the migration runner.
 *
 * Applies supabase/migrations/<14-digit version>_<name>.sql in version order, each in its own
 * transaction, and records it where the Supabase CLI looks
 * (supabase_migrations.schema_migrations: version, name, statements) and, with the file's
 * sha256, in scrollkeep.migration_files. Refuses an applied file whose content changed, an
 * applied version whose file is gone, and a pending file older than the newest applied one.
 * Concurrent runners serialize on an advisory lock; a failing file leaves nothing behind.
 * Migrations run as the database's owner (the runner switches to it when the connected role
 * is a member), so every object has the same owner whoever runs the command.
 */
#ifndef SK_MIGRATE_H
#define SK_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/crypto.h"
#include "core/err.h"

#define MIGRATION_VERSION_LEN 14
#define MIGRATION_NAME_MAX    96
#define MIGRATION_FILE_MAX    (4u << 20)

struct migration {
	char version[MIGRATION_VERSION_LEN + 1];
	char name[MIGRATION_NAME_MAX];
	char sha256[SHA256_HEX_LEN + 1];
	char *text; /* the file's content, NUL-terminated */
	size_t len;
};

struct migration_set {
	struct migration *items; /* sorted by version */
	size_t count;
};

/* Parse "<14 digits>_<name>.sql". name holds [A-Za-z0-9_-], 1 to 95 characters. Returns -1
 * when the file name does not have that form. */
int migration_parse_filename(const char *filename, char version[MIGRATION_VERSION_LEN + 1],
                             char name[MIGRATION_NAME_MAX]);

/* Read every *.sql file of dir. Returns -1 on a badly named .sql file, a duplicate version or
 * an unreadable file. Free with migrations_free(). */
int migrations_scan(const char *dir, struct migration_set *set, struct sk_err *err);
void migrations_free(struct migration_set *set);

enum migration_state {
	MIGRATION_APPLIED,      /* applied, and the file still hashes the same */
	MIGRATION_PENDING,      /* file present, not applied */
	MIGRATION_TAMPERED,     /* applied, but the file changed since */
	MIGRATION_UNVERIFIED,   /* applied by another tool (no checksum recorded) */
	MIGRATION_MISSING_FILE, /* applied, but no file has that version */
};

const char *migration_state_name(enum migration_state state);

struct migration_status {
	char version[MIGRATION_VERSION_LEN + 1];
	char name[MIGRATION_NAME_MAX];
	enum migration_state state;
	char applied_at[40]; /* empty when pending */
};

/* Compare the database with set. *out (freed by the caller) holds one entry per version
 * present in either, in version order. */
int migrate_status(PGconn *conn, const struct migration_set *set, struct migration_status **out,
                   size_t *count, struct sk_err *err);

/* Called after each file is applied. */
typedef void (*migrate_applied_fn)(const struct migration *m, double ms, void *ctx);

/* Apply every pending migration. *applied counts the files applied by this call. On failure
 * the failing file is rolled back, the ones before it stay applied, and err names the file. */
int migrate_apply(PGconn *conn, const struct migration_set *set, migrate_applied_fn on_applied,
                  void *ctx, int *applied, struct sk_err *err);

/* Switch this session to the database owner's role when the connected role is a member of it. */
int migrate_become_owner(PGconn *conn, struct sk_err *err);

#endif
