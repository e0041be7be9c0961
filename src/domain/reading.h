/*
 * reading.h — readings (Reading records v2): create-and-seal, read back, re-verify.
 *
 * The question and the answer are private; the public title and line are the safe fields that
 * share cards and public PDFs use; the spread is structured JSON with a fixed schema. A reading
 * is sealed when it is created: seal_sha256 is the SHA-256 of its canonical serialization
 * (RFC 8785, the JSON Canonicalization Scheme) over
 *   {record_version, id, user_id, question, answer, spread, public_title, public_line,
 *    product_code, sealed_at}
 * and the database refuses every later change but anonymization. Reading it back returns the
 * canonical text too, so anyone can recompute the hash.
 */
#ifndef SK_READING_H
#define SK_READING_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/db.h"
#include "core/err.h"

/* Validate a POST /v1/readings body (before any write). */
int reading_validate(const json_t *body, struct sk_err *err);

/* The same without the answer: a question for the oracle (POST /v1/oracle/readings). */
int reading_validate_question(const json_t *body, struct sk_err *err);

/* Create and seal a reading for user_id from a validated body, and stamp the person's
 * passport when passport_sync is granted, in the caller's transaction (begun as the person).
 * Returns {"id", "sealed_at", "seal_sha256", "passport_stamped"} (the caller decrefs). */
json_t *reading_create(PGconn *conn, const char *user_id, const json_t *body, struct sk_err *err);

/* reading_create with the answer given apart (the oracle's) and the row inserted as writer
 * (DB_ROLE_AI_WRITER for AI output); the passport stamp is written as service_role. */
json_t *reading_create_as(PGconn *conn, const char *user_id, const json_t *body, const char *answer,
                          enum db_role writer, struct sk_err *err);

/* The person's reading with its seal re-verified, or NULL with PROBLEM_NOT_FOUND when RLS
 * (or the owner check) does not show it. */
json_t *reading_get(PGconn *conn, const char *user_id, const char *reading_id, struct sk_err *err);

/* The canonical text of a sealed reading (RFC 8785 for these fields). The caller frees it. */
char *reading_canonical(const char *id, const char *user_id, const char *question,
                        const char *answer, const json_t *spread, const char *public_title,
                        const char *public_line, const char *product_code, const char *sealed_at);

/* Read the safe fields of the person's reading into *fields ({public_title, public_line,
 * spread, product_code, sealed_at, seal_sha256}) for artifacts; NULL when not visible. */
json_t *reading_public_fields(PGconn *conn, const char *user_id, const char *reading_id,
                              struct sk_err *err);

#endif
