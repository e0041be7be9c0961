/*
 * council.h — Council: several voices answer the reading's question. A session and its voices
 * are durable records; the voices' words are private. The site records the voices it has
 * (POST /v1/council), or the oracle writes them under the AI contract (oracle.h).
 */
#ifndef SK_COUNCIL_H
#define SK_COUNCIL_H

#include <jansson.h>
#include <libpq-fe.h>

#include <stdbool.h>

#include "core/db.h"
#include "core/err.h"

/* Validate a POST /v1/council body: {"reading_id", "voices": [{"voice", "body"}, …]}. */
int council_validate(const json_t *body, struct sk_err *err);

/* Record a session on the person's reading. Returns {"id", "reading_id", "status",
 * "voices": [{"position", "voice"}]}; PROBLEM_NOT_FOUND for a reading the person cannot see. */
json_t *council_record(PGconn *conn, const char *user_id, const json_t *body, struct sk_err *err);

/* Whether a voice's name is a name: a letter, then letters, digits, space, . _ - */
bool council_voice_name_ok(const char *s);

/* 0 when the person can see their reading, else -1 with PROBLEM_NOT_FOUND. */
int council_check_reading(PGconn *conn, const char *user_id, const char *reading_id,
                          struct sk_err *err);

/* Record a session of n voices (1..12), the voices inserted as writer (DB_ROLE_AI_WRITER for
 * the oracle's); voice_ids, when not NULL, receives the n voices' ids. Returns {"id", "reading_id",
 * "status", "voices": [{"position", "voice"}]}. */
json_t *council_store(PGconn *conn, const char *user_id, const char *reading_id,
                      const char *const *names, const char *const *bodies, size_t n,
                      enum db_role writer, char (*voice_ids)[37], struct sk_err *err);

#endif
