/*
 * echo.h — Echo: a follow-up of a reading that returns later. Scheduling one records the echo
 * and enqueues its echo_delivery_job (run at the scheduled time) in the same transaction.
 * Echoes arrive by e-mail, so email_delivery must be granted (and is checked again at send).
 */
#ifndef SK_ECHO_H
#define SK_ECHO_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/db.h"
#include "core/err.h"

/* Validate a POST /v1/echoes body: {"reading_id", "scheduled_for"}. */
int echo_validate(const json_t *body, struct sk_err *err);

/* Schedule an echo of the person's reading. Returns {"id", "reading_id", "scheduled_for",
 * "status", "job": {"id", "support_ref"}}; PROBLEM_NOT_FOUND for a reading the person cannot
 * see; PROBLEM_INVALID_BODY for a time outside one minute to one year ahead. */
json_t *echo_schedule(PGconn *conn, const char *user_id, const json_t *body, struct sk_err *err);

/* What scheduling needs, read as the person: the reading visible and theirs, the time within
 * bounds, email_delivery granted. 0, or -1 with the problem. */
int echo_check(PGconn *conn, const char *user_id, const char *reading_id, const char *when,
               struct sk_err *err);

/* Record the echo (text may be NULL; the row is inserted as writer, DB_ROLE_AI_WRITER for the
 * oracle's text) and enqueue its delivery, as echo_schedule answers. After echo_check. */
json_t *echo_store(PGconn *conn, const char *user_id, const char *reading_id, const char *when,
                   const char *text, enum db_role writer, struct sk_err *err);

#endif
