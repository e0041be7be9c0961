/*
 * db.h — PostgreSQL through libpq: connections, a pool for the server, and transactions that
 * run as one of the Supabase API roles.
 *
 * scrollkeep logs in as a NOINHERIT role holding no privilege of its own, so every
 * transaction must first switch role (exactly as PostgREST does: set_config('role', …, true)
 * and set_config('request.jwt.claims', …, true)). A code path that forgets gets
 * "permission denied", never a silent bypass of Row Level Security.
 *
 * Every function returns NULL / -1 on failure with err filled; SQL errors are mapped to
 * problems by SQLSTATE and logged by SQLSTATE and constraint name only, never by message
 * (PostgreSQL's messages and details can quote the values that failed).
 */
#ifndef SK_DB_H
#define SK_DB_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "err.h"

/* DB_ROLE_AI_WRITER: may insert the AI contract's output columns and nothing else (migration
 * 018); AI output is written as it, so a bug in the AI path cannot read or change a row. */
enum db_role { DB_ROLE_ANON, DB_ROLE_AUTHENTICATED, DB_ROLE_SERVICE, DB_ROLE_AI_WRITER };

/* The PostgreSQL role name of a db_role. */
const char *db_role_name(enum db_role role);

struct db_options {
	const char *app_name;     /* fallback_application_name */
	int statement_timeout_ms; /* 0 = none */
};

/* Connect to url. Returns NULL with PROBLEM_UNAVAILABLE when the database is unreachable. */
PGconn *db_connect(const char *url, const struct db_options *opt, struct sk_err *err);

/* db_connect, then take role for the whole session. For processes that only ever act as one
 * role (the worker is service_role throughout); request paths use db_begin_as instead. */
PGconn *db_connect_as(const char *url, const struct db_options *opt, enum db_role role,
                      struct sk_err *err);

struct db_pool;

/* A pool of at most size connections, opened lazily. Returns NULL on allocation failure. */
struct db_pool *db_pool_new(const char *url, const struct db_options *opt, int size);

/* Close every idle connection and free the pool; connections still out must be released first. */
void db_pool_free(struct db_pool *pool);

/* Borrow a connection, waiting up to timeout_ms for one to come back. Returns NULL with
 * PROBLEM_UNAVAILABLE when none comes or a new one cannot connect. */
PGconn *db_acquire(struct db_pool *pool, int timeout_ms, struct sk_err *err);

/* Return a connection: an open transaction is rolled back; a broken connection is dropped. */
void db_release(struct db_pool *pool, PGconn *conn);

/* BEGIN, then switch to role for this transaction only, with claims_json (may be NULL) in
 * request.jwt.claims. */
int db_begin_as(PGconn *conn, enum db_role role, const char *claims_json, struct sk_err *err);

/* Switch the open transaction to another role (the claims stay). A person's request reads as
 * authenticated, under RLS, then writes as service_role with the ids it has read. */
int db_set_role(PGconn *conn, enum db_role role, struct sk_err *err);

int db_commit(PGconn *conn, struct sk_err *err);
void db_rollback(PGconn *conn);

/* Run a parameterized statement (text parameters, text results). Returns the result (the
 * caller PQclear()s it) or NULL with err filled from the SQLSTATE. */
PGresult *db_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                   struct sk_err *err);

/* Prepare sql under name on this connection (once; the server keeps the plan). */
int db_prepare(PGconn *conn, const char *name, const char *sql, int nparams, struct sk_err *err);

/* db_query for a statement prepared with db_prepare. */
PGresult *db_query_prepared(PGconn *conn, const char *name, int nparams, const char *const *params,
                            struct sk_err *err);

/* db_query for a statement answering one row of one JSON column: the parsed value, or NULL
 * with err filled (PROBLEM_INTERNAL when the answer is not one JSON value). */
json_t *db_query_json(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      struct sk_err *err);

/* db_query for statements whose result is not needed. */
int db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
            struct sk_err *err);

/* Run a whole SQL script through the simple query protocol (migrations only: the script
 * comes from a reviewed file, never from a request). */
int db_exec_script(PGconn *conn, const char *script, struct sk_err *err);

/* Map a failed result to a problem in err and log its SQLSTATE. Always returns -1. */
int db_error(const PGresult *res, PGconn *conn, struct sk_err *err);

#endif
