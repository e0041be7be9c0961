/*
 * consent.h — the consent ledger: record a granted or withdrawn purpose, read the current
 * state and the history, and the one consent gate every writer calls.
 *
 * The decision itself is scrollkeep.consent_state() in SQL (the latest event per purpose
 * wins; never consented is not granted; a lapsed grant is withdrawn): the API, the worker,
 * the lab and the database's own triggers all ask that function, so the rule lives once.
 */
#ifndef SK_CONSENT_H
#define SK_CONSENT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* DESIGN.md's purposes, NULL-terminated. */
extern const char *const consent_purposes[];

bool consent_purpose_known(const char *purpose);

/* Validate a POST /v1/consents body (before any write). */
int consent_validate(const json_t *body, struct sk_err *err);

/* Append one event for user_id from a validated body; actor is person, support, import or
 * system. Runs as service_role in the caller's transaction. Returns the event (the caller
 * decrefs) or NULL. */
json_t *consent_record(PGconn *conn, const char *user_id, const json_t *body, const char *actor,
                       struct sk_err *err);

/* {"purposes": {"<purpose>": "granted" | "withdrawn" | "never", …}} for every purpose. */
json_t *consent_current(PGconn *conn, const char *user_id, struct sk_err *err);

/* {"events": [ … ]}: the person's ledger, oldest first. */
json_t *consent_history(PGconn *conn, const char *user_id, struct sk_err *err);

/* The consent gate: 0 when every purpose is granted now, else -1 with
 * PROBLEM_CONSENT_REQUIRED and err->missing_consent listing each one that is not. */
int consent_require(PGconn *conn, const char *user_id, const char *const *purposes, size_t n,
                    struct sk_err *err);

#endif
