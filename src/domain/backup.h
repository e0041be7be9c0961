/*
 * backup.h — a consistent backup of the product's schemas and of the artifact store, and its
 * restore, which forgets again everyone erased since (see privacy.h).
 *
 * A backup directory holds database.dump (pg_dump's custom format of public, scrollkeep, auth
 * and supabase_migrations, taken in one exported snapshot), artifacts/ (the store's files)
 * and manifest.json: the format, the time, the server's and pg_dump's versions, the migration
 * level, each table's row count and checksum in that same snapshot, and each file's sha256.
 * pg_dump and pg_restore do the dumping: they are PostgreSQL's own, and nothing else reads
 * or writes its custom format.
 */
#ifndef SK_BACKUP_H
#define SK_BACKUP_H

#include <jansson.h>
#include <stdbool.h>

#include "core/config.h"
#include "core/err.h"

/* Write a backup of cfg's database and artifact store into out_dir (created; it must not
 * exist or be empty). progress draws a bar on stderr. *manifest (may be NULL) is the
 * manifest written. */
int backup_write(const struct config *cfg, const char *out_dir, bool progress, json_t **manifest,
                 struct sk_err *err);

/* Restore from_dir into the empty database at into_url and its files into artifact_dir:
 * refuses a damaged file or a migration level newer than cfg's migrations, re-checks every
 * table's count and checksum and every file's hash against the manifest, copies the erasure
 * tombstones of cfg's (live) database when tombstones_from_live, and forgets again everyone
 * they name. *report says what was checked and found; returns -1 on an error that stopped
 * it, 0 otherwise (look at the report's "ok"). */
int backup_restore(const struct config *cfg, const char *from_dir, const char *into_url,
                   const char *artifact_dir, bool tombstones_from_live, json_t **report,
                   struct sk_err *err);

/* The drill: a synthetic canary person is created in cfg's database, a backup taken, the
 * canary forgotten, the backup restored into into_url (an empty, throwaway database) with a
 * throwaway store, and the copy proved equal to the source's snapshot, with the canary gone
 * from it. */
int backup_drill(const struct config *cfg, const char *into_url, json_t **report,
                 struct sk_err *err);

#endif
