/*
 * privacy.h — the data-subject requests: exports (everything held about a person, as one
 * archive), deletions (a request that moves requested → verified → scheduled → running →
 * completed, run a step at a time so a crash resumes where it stopped) and the proof that a
 * forgotten person is gone from every table and file. The steps themselves are SQL (migration
 * 016); this side holds what the database cannot: the artifact store, the erasure key, the
 * archive's files.
 *
 * The legal deadlines: a month from the request, extended by up to two months only with a
 * recorded reason. `verify` lists and `doctor` counts every open request that is overdue or
 * due within PRIVACY_DUE_SOON_DAYS, so none is noticed only once it is late.
 */
#ifndef SK_PRIVACY_H
#define SK_PRIVACY_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

#define PRIVACY_DUE_SOON_DAYS 7
/* How long a ready export's link works before the archive is due for removal. */
#define PRIVACY_EXPORT_DAYS 7
/* How long payments are kept, pseudonymized, for tax and accounting (HGB §257, AO §147). */
#define PRIVACY_ACCOUNTING_YEARS 10

/* The export and deletion routes' body: an empty object, since nothing the person could say
 * changes what they get. */
int privacy_request_validate(const json_t *body, struct sk_err *err);

/* Append to items one {"problem": "overdue" | "due_soon", "id": "deletion_request:UUID" |
 * "data_export:UUID", "due": time} per open request that needs attention, soonest first
 * (conn as service_role). */
int privacy_deadlines(PGconn *conn, json_t *items, struct sk_err *err);

/* The archive of everything held about user_id (conn as service_role): the database's part
 * (scrollkeep.export_subject) and the artifact files, base64url. The caller frees it. */
char *privacy_export_archive(PGconn *conn, const struct config *cfg, const char *user_id,
                             size_t *len, struct sk_err *err);

/* Write data export export_id's archive into the store and mark it ready (a ready one is left
 * as it is). Each statement is its own transaction: call outside one. */
int privacy_export_run(PGconn *conn, const struct config *cfg, const char *export_id,
                       struct sk_err *err);

/* Run deletion request request_id to its end from wherever it stopped: the SQL steps, the
 * files, then the proof. *report (may be NULL; the caller decrefs) is the stored report; the
 * request is completed only when the proof found nothing ("hits" 0). Returns -1 on an error,
 * 0 otherwise (a proof with hits included: look at the report). */
int privacy_forget_run(PGconn *conn, const struct config *cfg, const char *request_id,
                       json_t **report, struct sk_err *err);

/* The proof for user_id now: every table and file scanned for the person's identifiers as
 * they stand (id, e-mail, questions, answers, gift recipients), and the stored report of
 * their completed deletion when there is one (found through their tombstone). */
json_t *privacy_proof(PGconn *conn, const struct config *cfg, const char *user_id,
                      struct sk_err *err);

/* After a restore: every account whose keyed hash is a tombstone's is forgotten again (a new
 * deletion request each, run to its end). *forgotten counts them; *failed those whose proof
 * still found them. */
int privacy_reapply_tombstones(PGconn *conn, const struct config *cfg, int *forgotten, int *failed,
                               struct sk_err *err);

/* The keyed hash of a subject for its tombstone (HMAC-SHA256 under SCROLLKEEP_ERASURE_KEY, or
 * under a key derived from SUPABASE_JWT_SECRET when that is unset), and the key's id. */
int privacy_subject_hmac(const struct config *cfg, const char *user_id, char hex[65],
                         const char **key_id);

#endif
