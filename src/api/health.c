/*
 * health.c — liveness and readiness.
 *
 * /healthz answers while the process serves requests at all. /readyz answers 200 only when
 * the database is reachable and every migration this server was started with is applied
 * unchanged; a database already migrated further (a newer release rolling out) is still
 * ready, because migrations are written to be backward compatible. /metrics is the counters
 * of this process and the database's gauges (domain/gauges.h).
 */
#include "app.h"
#include "core/buf.h"
#include "core/metrics.h"
#include "domain/gauges.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void api_healthz(struct http_request *req, struct http_response *res)
{
	(void)req;
	http_respond_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

/* Compare the database's migration level with the expected set. Fills counts and the
 * versions that are not current; returns 0 when every expected file is applied unchanged. */
static int migrations_current(PGconn *conn, const struct migration_set *expected, json_t *body,
                              struct sk_err *err)
{
	struct migration_status *st = NULL;
	size_t n = 0;
	if (migrate_status(conn, expected, &st, &n, err) < 0)
		return -1;
	json_t *behind = json_array();
	int applied = 0;
	for (size_t i = 0; i < n; i++) {
		if (st[i].state == MIGRATION_APPLIED || st[i].state == MIGRATION_UNVERIFIED)
			applied++;
		else if (st[i].state == MIGRATION_PENDING || st[i].state == MIGRATION_TAMPERED)
			json_array_append_new(behind, json_pack("{s:s, s:s}", "version",
			                                        st[i].version, "state",
			                                        migration_state_name(st[i].state)));
	}
	free(st);
	size_t not_current = json_array_size(behind);
	json_object_set_new(body, "migrations",
	                    json_pack("{s:i, s:i, s:o}", "expected", (int)expected->count,
	                              "applied", applied, "not_current", behind));
	return not_current == 0 ? 0 : 1;
}

void api_readyz(struct http_request *req, struct http_response *res)
{
	struct app *app = req->app;
	struct sk_err err = {0};
	json_t *body = json_object();
	json_t *checks = json_object();
	json_object_set_new(body, "checks", checks);
	bool ready = true;

	PGconn *conn = db_acquire(app->pool, 2000, &err);
	if (!conn || db_begin_as(conn, DB_ROLE_SERVICE, NULL, &err) < 0) {
		json_object_set_new(checks, "database", json_string("unreachable"));
		json_object_set_new(checks, "migrations", json_string("unknown"));
		ready = false;
	} else {
		json_object_set_new(checks, "database", json_string("ok"));
		int current = app->expected_known
		                      ? migrations_current(conn, &app->expected, body, &err)
		                      : -1;
		json_object_set_new(checks, "migrations",
		                    json_string(current == 0  ? "current"
		                                : current > 0 ? "behind"
		                                              : "unknown"));
		ready = current == 0;
		db_rollback(conn);
	}
	db_release(app->pool, conn);
	json_object_set_new(body, "status", json_string(ready ? "ready" : "not_ready"));
	http_respond_json(res, ready ? 200 : 503, body);
}

/* The database's gauges, or scrollkeep_database_up 0 when it cannot be read: a scrape must
 * answer even then. */
static void append_gauges(struct app *app, struct buf *b)
{
	struct sk_err err = {0};
	PGconn *conn = db_acquire(app->pool, 1000, &err);
	bool up = conn && db_begin_as(conn, DB_ROLE_SERVICE, NULL, &err) == 0 &&
	          gauges_render(conn, b, &err) == 0;
	if (conn) {
		db_rollback(conn);
		db_release(app->pool, conn);
	}
	buf_printf(b,
	           "# HELP scrollkeep_database_up whether the gauges could be read\n"
	           "# TYPE scrollkeep_database_up gauge\nscrollkeep_database_up %d\n",
	           up ? 1 : 0);
}

void api_metrics(struct http_request *req, struct http_response *res)
{
	struct buf b = {0};
	char *counters = metrics_render();
	if (counters)
		buf_puts(&b, counters);
	free(counters);
	append_gauges(req->app, &b);
	char *text = counters ? buf_take(&b) : NULL;
	if (!text) {
		buf_free(&b);
		struct sk_err err = {0};
		err_set(&err, PROBLEM_INTERNAL, "out of memory");
		http_respond_problem(res, req, &err);
		return;
	}
	http_respond_raw(res, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
	http_add_header(res, "Cache-Control", "no-store");
}
