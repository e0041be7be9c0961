/*
 * council.h — Council: several voices answer the reading's question. A session and its voices
 * are durable records; the voices' words are private. (The AI that writes voices arrives with
 * the AI contract; today the site records the voices it has.)
 */
#ifndef SK_COUNCIL_H
#define SK_COUNCIL_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/err.h"

/* Validate a POST /v1/council body: {"reading_id", "voices": [{"voice", "body"}, …]}. */
int council_validate(const json_t *body, struct sk_err *err);

/* Record a session on the person's reading. Returns {"id", "reading_id", "status",
 * "voices": [{"position", "voice"}]}; PROBLEM_NOT_FOUND for a reading the person cannot see. */
json_t *council_record(PGconn *conn, const char *user_id, const json_t *body, struct sk_err *err);

#endif
