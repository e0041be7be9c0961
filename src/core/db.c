/*
 * db.c — libpq connections, the server's pool, role-switching transactions and the mapping
 * from SQLSTATE to problems.
 */
#include "db.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

/* ---- connections ---- */

/* libpq prints notices and warnings to stderr as free text, which can quote values: log
 * their SQLSTATE only. */
static void on_notice(void *arg, const PGresult *res)
{
	(void)arg;
	log_warn("db_notice", LF_STR("sqlstate", PQresultErrorField(res, PG_DIAG_SQLSTATE)));
}

static int session_setup(PGconn *conn, const struct db_options *opt, struct sk_err *err)
{
	char timeout[32];
	snprintf(timeout, sizeof(timeout), "%d", opt ? opt->statement_timeout_ms : 0);
	const char *params[] = {timeout};
	/* Settings for the whole session; is_local = false. */
	return db_exec(conn,
	               "SELECT set_config('statement_timeout', $1, false),"
	               " set_config('idle_in_transaction_session_timeout', '60s', false),"
	               " set_config('client_min_messages', 'warning', false),"
	               /* JSON built in SQL prints times as RFC 3339 UTC ("…+00:00"). */
	               " set_config('TimeZone', 'UTC', false)",
	               1, params, err);
}

PGconn *db_connect(const char *url, const struct db_options *opt, struct sk_err *err)
{
	if (!url) {
		err_set(err, PROBLEM_USAGE, "DATABASE_URL is not set");
		return NULL;
	}
	/* Keywords before dbname are defaults the URL may override; client_encoding after it
	 * is forced: every string scrollkeep sends and reads is UTF-8. */
	const char *keys[] = {"connect_timeout", "dbname", "fallback_application_name",
	                      "client_encoding", NULL};
	const char *values[] = {"5", url, opt && opt->app_name ? opt->app_name : "scrollkeep",
	                        "UTF8", NULL};
	PGconn *conn = PQconnectdbParams(keys, values, 1);
	if (!conn) {
		err_set(err, PROBLEM_UNAVAILABLE, "out of memory connecting to the database");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		/* libpq's message names host and user, not secrets; keep it out of the detail
		 * anyway and give a fixed one. */
		log_warn("db_connect_failed", LF_STR("database", PQdb(conn)));
		err_set(err, PROBLEM_UNAVAILABLE, "the database is unreachable");
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeReceiver(conn, on_notice, NULL);
	if (session_setup(conn, opt, err) < 0) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

PGconn *db_connect_as(const char *url, const struct db_options *opt, enum db_role role,
                      struct sk_err *err)
{
	PGconn *conn = db_connect(url, opt, err);
	if (!conn)
		return NULL;
	const char *params[] = {db_role_name(role)};
	if (db_exec(conn, "SELECT set_config('role', $1, false)", 1, params, err) < 0) {
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* ---- the pool ---- */

struct db_pool {
	char *url;
	struct db_options opt;
	char *app_name;
	int size;
	int open; /* connections alive, idle or lent */
	int nidle;
	PGconn **idle;
	pthread_mutex_t lock;
	pthread_cond_t returned;
};

struct db_pool *db_pool_new(const char *url, const struct db_options *opt, int size)
{
	struct db_pool *pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pool->url = url ? strdup(url) : NULL;
	pool->app_name = strdup(opt && opt->app_name ? opt->app_name : "scrollkeep");
	pool->idle = calloc((size_t)size, sizeof(PGconn *));
	if ((url && !pool->url) || !pool->app_name || !pool->idle) {
		free(pool->url);
		free(pool->app_name);
		free(pool->idle);
		free(pool);
		return NULL;
	}
	pool->opt.app_name = pool->app_name;
	pool->opt.statement_timeout_ms = opt ? opt->statement_timeout_ms : 0;
	pool->size = size;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->returned, NULL);
	return pool;
}

void db_pool_free(struct db_pool *pool)
{
	if (!pool)
		return;
	for (int i = 0; i < pool->nidle; i++)
		PQfinish(pool->idle[i]);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->returned);
	free(pool->idle);
	free(pool->url);
	free(pool->app_name);
	free(pool);
}

PGconn *db_acquire(struct db_pool *pool, int timeout_ms, struct sk_err *err)
{
	struct timespec deadline = clock_deadline_us((long long)timeout_ms * 1000);
	pthread_mutex_lock(&pool->lock);
	while (pool->nidle == 0 && pool->open >= pool->size) {
		if (pthread_cond_timedwait(&pool->returned, &pool->lock, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&pool->lock);
			err_set(err, PROBLEM_UNAVAILABLE, "no database connection is free");
			return NULL;
		}
	}
	if (pool->nidle > 0) {
		PGconn *conn = pool->idle[--pool->nidle];
		pthread_mutex_unlock(&pool->lock);
		if (PQstatus(conn) == CONNECTION_OK)
			return conn;
		/* It broke while idle (a server restart): replace it. */
		PQfinish(conn);
		pthread_mutex_lock(&pool->lock);
		pool->open--;
	}
	pool->open++;
	pthread_mutex_unlock(&pool->lock);

	PGconn *conn = db_connect(pool->url, &pool->opt, err);
	if (!conn) {
		pthread_mutex_lock(&pool->lock);
		pool->open--;
		pthread_cond_signal(&pool->returned);
		pthread_mutex_unlock(&pool->lock);
	}
	return conn;
}

void db_release(struct db_pool *pool, PGconn *conn)
{
	if (!conn)
		return;
	if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
		db_rollback(conn);
	bool healthy = PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
	pthread_mutex_lock(&pool->lock);
	if (healthy && pool->nidle < pool->size) {
		pool->idle[pool->nidle++] = conn;
	} else {
		PQfinish(conn);
		pool->open--;
	}
	pthread_cond_signal(&pool->returned);
	pthread_mutex_unlock(&pool->lock);
}

/* ---- transactions ---- */

const char *db_role_name(enum db_role role)
{
	switch (role) {
	case DB_ROLE_ANON:
		return "anon";
	case DB_ROLE_AUTHENTICATED:
		return "authenticated";
	case DB_ROLE_SERVICE:
		return "service_role";
	case DB_ROLE_AI_WRITER:
		return "scrollkeep_ai_writer";
	}
	return "anon";
}

int db_begin_as(PGconn *conn, enum db_role role, const char *claims_json, struct sk_err *err)
{
	if (db_exec(conn, "BEGIN", 0, NULL, err) < 0)
		return -1;
	const char *params[] = {db_role_name(role), claims_json ? claims_json : ""};
	if (db_exec(conn,
	            "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
	            2, params, err) < 0) {
		db_rollback(conn);
		return -1;
	}
	return 0;
}

int db_set_role(PGconn *conn, enum db_role role, struct sk_err *err)
{
	const char *params[] = {db_role_name(role)};
	return db_exec(conn, "SELECT set_config('role', $1, true)", 1, params, err);
}

int db_commit(PGconn *conn, struct sk_err *err)
{
	return db_exec(conn, "COMMIT", 0, NULL, err);
}

void db_rollback(PGconn *conn)
{
	PGresult *res = PQexec(conn, "ROLLBACK");
	PQclear(res);
}

PGresult *db_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
                   struct sk_err *err)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	db_error(res, conn, err);
	PQclear(res);
	return NULL;
}

int db_prepare(PGconn *conn, const char *name, const char *sql, int nparams, struct sk_err *err)
{
	PGresult *res = PQprepare(conn, name, sql, nparams, NULL);
	if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return 0;
	}
	db_error(res, conn, err);
	PQclear(res);
	return -1;
}

PGresult *db_query_prepared(PGconn *conn, const char *name, int nparams, const char *const *params,
                            struct sk_err *err)
{
	PGresult *res = PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	db_error(res, conn, err);
	PQclear(res);
	return NULL;
}

json_t *db_query_json(PGconn *conn, const char *sql, int nparams, const char *const *params,
                      struct sk_err *err)
{
	PGresult *res = db_query(conn, sql, nparams, params, err);
	if (!res)
		return NULL;
	json_t *out = NULL;
	json_error_t jerr;
	if (PQntuples(res) == 1 && PQnfields(res) == 1 && !PQgetisnull(res, 0, 0))
		out = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	PQclear(res);
	if (!out)
		err_set(err, PROBLEM_INTERNAL, "the database answered no JSON value");
	return out;
}

int db_exec(PGconn *conn, const char *sql, int nparams, const char *const *params,
            struct sk_err *err)
{
	PGresult *res = db_query(conn, sql, nparams, params, err);
	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

int db_exec_script(PGconn *conn, const char *script, struct sk_err *err)
{
	PGresult *res = PQexec(conn, script);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY) {
		PQclear(res);
		return 0;
	}
	db_error(res, conn, err);
	PQclear(res);
	return -1;
}

/* ---- errors ---- */

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool known_purpose(const char *p)
{
	static const char *const purposes[] = {"email_delivery", "passport_sync", "public_share",
	                                       "gift_delivery",  "ai_processing", "marketing"};
	for (size_t i = 0; i < sizeof(purposes) / sizeof(purposes[0]); i++)
		if (strcmp(p, purposes[i]) == 0)
			return true;
	return false;
}

int db_error(const PGresult *res, PGconn *conn, struct sk_err *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
	const char *table = res ? PQresultErrorField(res, PG_DIAG_TABLE_NAME) : NULL;
	if (!state)
		state = PQstatus(conn) == CONNECTION_OK ? "XX000" : "08006";

	log_warn("db_error", LF_STR("sqlstate", state), LF_STR("constraint", constraint),
	         LF_STR("table", table));

	if (strcmp(state, "23505") == 0)
		err_set(err, PROBLEM_CONFLICT, "duplicate: %s",
		        constraint ? constraint : "unique key");
	else if (strcmp(state, "23503") == 0 && constraint && strstr(constraint, "_user_id_fkey"))
		err_set(err, PROBLEM_FORBIDDEN, "the signed-in person has no account here");
	else if (strcmp(state, "23503") == 0)
		err_set(err, PROBLEM_CONFLICT,
		        "a row it refers to does not exist or is still referenced (%s)",
		        constraint ? constraint : "foreign key");
	else if (starts_with(state, "23") || starts_with(state, "22"))
		err_set(err, PROBLEM_INVALID_BODY, "a value was refused by the database (%s)",
		        constraint ? constraint : state);
	else if (strcmp(state, "42501") == 0)
		err_set(err, PROBLEM_FORBIDDEN, "permission denied");
	else if (strcmp(state, "SKC01") == 0) {
		const char *purpose = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		err_set(err, PROBLEM_CONSENT_REQUIRED, "consent %s is not granted",
		        purpose && known_purpose(purpose) ? purpose : "unknown");
		if (err && purpose && known_purpose(purpose))
			snprintf(err->missing_consent, sizeof(err->missing_consent), "%s", purpose);
	} else if (strcmp(state, "SKS01") == 0)
		err_set(err, PROBLEM_CONFLICT, "a sealed reading cannot change");
	else if (strcmp(state, "SKA01") == 0)
		err_set(err, PROBLEM_CONFLICT, "the ledger is append-only");
	else if (strcmp(state, "SKT01") == 0)
		err_set(err, PROBLEM_CONFLICT, "that state change is not allowed");
	else if (strcmp(state, "P0002") == 0)
		err_set(err, PROBLEM_NOT_FOUND, "no such row");
	else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	         strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0 ||
	         starts_with(state, "08") || starts_with(state, "57P") || starts_with(state, "53"))
		err_set(err, PROBLEM_UNAVAILABLE, "the database is busy or unavailable (%s)",
		        state);
	else
		err_set(err, PROBLEM_INTERNAL, "database error (%s)", state);
	if (err)
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state);
	return -1;
}
