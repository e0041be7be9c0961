/*
 * echo.c — scheduling Echo follow-ups.
 */
#include "echo.h"

#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/db.h"
#include "core/json.h"
#include "domain/consent.h"
#include "jobs/queue.h"

static const struct json_field echo_fields[] = {
        {"reading_id", JSON_FIELD_UUID, true, 36, 36, NULL},
        {"scheduled_for", JSON_FIELD_TIMESTAMP, true, 20, 35, NULL},
};

int echo_validate(const json_t *body, struct sk_err *err)
{
	return json_check_fields(body, echo_fields, sizeof(echo_fields) / sizeof(echo_fields[0]),
	                         NULL, err);
}

/* The reading must be visible to the person (RLS) and theirs; the time within bounds. */
static const char *const sql_check =
        "SELECT (SELECT count(*) FROM public.readings WHERE id = $1 AND user_id = $2),"
        "       $3::timestamptz BETWEEN now() + interval '1 minute' AND now() + interval '366 days'";

static const char *const sql_insert =
        "INSERT INTO public.echoes (id, user_id, reading_id, scheduled_for, body)"
        " VALUES ($1, $2, $3, $4::timestamptz, $5)";

static const char *const sql_read_back =
        "SELECT to_json(scheduled_for) #>> '{}', status FROM public.echoes WHERE id = $1";

int echo_check(PGconn *conn, const char *user_id, const char *reading_id, const char *when,
               struct sk_err *err)
{
	const char *check[] = {reading_id, user_id, when};
	PGresult *res = db_query(conn, sql_check, 3, check, err);
	if (!res)
		return -1;
	bool visible = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
	bool in_range = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (!visible)
		return err_set(err, PROBLEM_NOT_FOUND, "no such reading");
	if (!in_range)
		return err_set(err, PROBLEM_INVALID_BODY,
		               "scheduled_for must be between one minute and one year ahead");
	static const char *const needs[] = {"email_delivery"};
	return consent_require(conn, user_id, needs, 1, err);
}

json_t *echo_store(PGconn *conn, const char *user_id, const char *reading_id, const char *when,
                   const char *text, enum db_role writer, struct sk_err *err)
{
	char id[37];
	if (crypto_uuid_v4(id) < 0) {
		err_set(err, PROBLEM_INTERNAL, "no randomness");
		return NULL;
	}
	const char *params[] = {id, user_id, reading_id, when, text};
	if (db_set_role(conn, writer, err) < 0 || db_exec(conn, sql_insert, 5, params, err) < 0 ||
	    db_set_role(conn, DB_ROLE_SERVICE, err) < 0)
		return NULL;
	const char *idp[] = {id};
	PGresult *res = db_query(conn, sql_read_back, 1, idp, err);
	if (!res)
		return NULL;
	char scheduled[64], status[16];
	snprintf(scheduled, sizeof(scheduled), "%s", PQgetvalue(res, 0, 0));
	snprintf(status, sizeof(status), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);

	char key[64];
	snprintf(key, sizeof(key), "echo:%s", id);
	json_t *payload = json_pack("{s:s, s:s}", "echo_id", id, "user_id", user_id);
	struct queue_job_ref job;
	int rc = queue_enqueue(conn, "echo_delivery_job", payload, key, when, &job, err);
	json_decref(payload);
	if (rc < 0)
		return NULL;
	char job_id[24];
	snprintf(job_id, sizeof(job_id), "%lld", job.id);
	const char *link[] = {job_id, id};
	if (db_exec(conn, "UPDATE public.echoes SET job_id = $1 WHERE id = $2", 2, link, err) < 0)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:I, s:s}}", "id", id, "reading_id", reading_id,
	                 "scheduled_for", scheduled, "status", status, "job", "id",
	                 (json_int_t)job.id, "support_ref", job.support_ref);
}

json_t *echo_schedule(PGconn *conn, const char *user_id, const json_t *body, struct sk_err *err)
{
	const char *reading_id = json_str(body, "reading_id");
	const char *when = json_str(body, "scheduled_for");
	if (echo_check(conn, user_id, reading_id, when, err) < 0)
		return NULL;
	return echo_store(conn, user_id, reading_id, when, NULL, DB_ROLE_SERVICE, err);
}
