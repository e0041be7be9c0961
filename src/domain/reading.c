/*
 * reading.c — readings: validation, the seal, the SQL.
 */
#include "reading.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/db.h"
#include "core/json.h"
#include "core/testhook.h"

static const struct json_field reading_fields[] = {
        {"question", JSON_FIELD_STRING, true, 1, 2000, NULL},
        {"answer", JSON_FIELD_STRING, true, 1, 20000, NULL},
        {"spread", JSON_FIELD_ARRAY, true, 1, 78, NULL},
        {"public_title", JSON_FIELD_STRING, true, 1, 120, NULL},
        {"public_line", JSON_FIELD_STRING, true, 1, 280, NULL},
        {"product_code", JSON_FIELD_STRING, false, 1, 40, NULL},
};

static const struct json_field card_fields[] = {
        {"card", JSON_FIELD_STRING, true, 1, 64, NULL},
        {"position", JSON_FIELD_STRING, true, 1, 64, NULL},
        {"reversed", JSON_FIELD_BOOL, true, 0, 0, NULL},
};

static bool product_code_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* The fields of a reading, with or without the answer (the oracle writes it). */
static int validate_reading(const json_t *body, bool with_answer, struct sk_err *err)
{
	struct json_field fields[sizeof(reading_fields) / sizeof(reading_fields[0])];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(reading_fields) / sizeof(reading_fields[0]); i++)
		if (with_answer || strcmp(reading_fields[i].name, "answer") != 0)
			fields[n++] = reading_fields[i];
	if (json_check_fields(body, fields, n, NULL, err) < 0)
		return -1;
	size_t i;
	const json_t *card;
	json_array_foreach(json_object_get(body, "spread"), i, card)
	{
		char where[32];
		snprintf(where, sizeof(where), "spread[%zu].", i);
		if (json_check_fields(card, card_fields,
		                      sizeof(card_fields) / sizeof(card_fields[0]), where, err) < 0)
			return -1;
	}
	const char *product = json_str(body, "product_code");
	if (product && !product_code_ok(product))
		return err_set(err, PROBLEM_INVALID_BODY, "product_code may hold a-z, 0-9 and _");
	return 0;
}

int reading_validate(const json_t *body, struct sk_err *err)
{
	return validate_reading(body, true, err);
}

int reading_validate_question(const json_t *body, struct sk_err *err)
{
	return validate_reading(body, false, err);
}

/* The canonical form is RFC 8785 (JCS). For the value types a reading has (strings, booleans,
 * the integer 2, arrays and objects with ASCII keys) jansson's compact, key-sorted output is
 * exactly JCS, given that the strings hold no control character but tab, newline and carriage
 * return (json.c refuses the others; JCS would want them in lower-case \u00xx, jansson
 * writes upper case). tests/node/readings.test.mjs recomputes the hash independently. */
char *reading_canonical(const char *id, const char *user_id, const char *question,
                        const char *answer, const json_t *spread, const char *public_title,
                        const char *public_line, const char *product_code, const char *sealed_at)
{
	json_t *o =
	        json_pack("{s:i, s:s, s:s, s:s, s:s, s:O, s:s, s:s, s:s, s:s}", "record_version", 2,
	                  "id", id, "user_id", user_id, "question", question, "answer", answer,
	                  "spread", spread, "public_title", public_title, "public_line",
	                  public_line, "product_code", product_code, "sealed_at", sealed_at);
	if (!o)
		return NULL;
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return text;
}

/* Now, as RFC 3339 UTC with microseconds: the precision PostgreSQL stores, so the text
 * round-trips exactly through timestamptz. */
static void now_rfc3339(char out[32])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%06ldZ", ts.tv_nsec / 1000);
}

static const char *const sql_insert =
        "INSERT INTO public.readings (id, user_id, question, answer, spread, public_title,"
        " public_line, product_code, sealed_at, seal_sha256)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9::timestamptz, $10)";

/* Open the passport and stamp it, only when passport_sync is granted (the trigger on
 * passport_stamps would refuse otherwise). Returns one row when stamped. */
static const char *const sql_stamp =
        "WITH p AS (INSERT INTO public.passports (user_id)"
        "           SELECT $1 WHERE scrollkeep.consent_state($1::uuid, 'passport_sync') = 'granted'"
        "           ON CONFLICT (user_id) DO UPDATE SET updated_at = now() RETURNING user_id)"
        "INSERT INTO public.passport_stamps (user_id, reading_id, kind, label)"
        "SELECT user_id, $2, 'reading', $3 FROM p ON CONFLICT DO NOTHING RETURNING id";

json_t *reading_create(PGconn *conn, const char *user_id, const json_t *body, struct sk_err *err)
{
	return reading_create_as(conn, user_id, body, json_str(body, "answer"), DB_ROLE_SERVICE,
	                         err);
}

json_t *reading_create_as(PGconn *conn, const char *user_id, const json_t *body, const char *answer,
                          enum db_role writer, struct sk_err *err)
{
	char id[37], sealed_at[32], seal[SHA256_HEX_LEN + 1];
	if (crypto_uuid_v4(id) < 0) {
		err_set(err, PROBLEM_INTERNAL, "no randomness");
		return NULL;
	}
	now_rfc3339(sealed_at);
	const char *product = json_str(body, "product_code");
	if (!product)
		product = "reading";
	const json_t *spread = json_object_get(body, "spread");
	char *canonical = reading_canonical(id, user_id, json_str(body, "question"), answer, spread,
	                                    json_str(body, "public_title"),
	                                    json_str(body, "public_line"), product, sealed_at);
	char *spread_text = json_dumps(spread, JSON_COMPACT);
	json_t *out = NULL;
	if (!canonical || !spread_text) {
		err_set(err, PROBLEM_INTERNAL, "out of memory");
		goto done;
	}
	crypto_sha256_hex(canonical, strlen(canonical), seal);
	const char *params[] = {id,
	                        user_id,
	                        json_str(body, "question"),
	                        answer,
	                        spread_text,
	                        json_str(body, "public_title"),
	                        json_str(body, "public_line"),
	                        product,
	                        sealed_at,
	                        seal};
	if (db_set_role(conn, writer, err) < 0 || db_exec(conn, sql_insert, 10, params, err) < 0 ||
	    db_set_role(conn, DB_ROLE_SERVICE, err) < 0)
		goto done;
	const char *stamp_params[] = {user_id, id, json_str(body, "public_title")};
	PGresult *res = db_query(conn, sql_stamp, 3, stamp_params, err);
	if (!res)
		goto done;
	bool stamped = PQntuples(res) == 1;
	PQclear(res);
	out = json_pack("{s:s, s:s, s:s, s:b}", "id", id, "sealed_at", sealed_at, "seal_sha256",
	                seal, "passport_stamped", stamped);
done:
	free(canonical);
	free(spread_text);
	return out;
}

#define SQL_TIME(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

static const char *const sql_get =
        "SELECT id, user_id, question, answer, spread::text, public_title, public_line,"
        " product_code, record_version, " SQL_TIME("created_at") ", " SQL_TIME(
                "sealed_at") ","
                             " seal_sha256 FROM public.readings WHERE id = $1";
static const char *const sql_get_own =
        "SELECT id, user_id, question, answer, spread::text, public_title, public_line,"
        " product_code, record_version, " SQL_TIME("created_at") ", " SQL_TIME(
                "sealed_at") ","
                             " seal_sha256 FROM public.readings WHERE id = $1 AND user_id = $2";

/* Run the owner-scoped query: RLS filters the rows, and the C-side "AND user_id = $2" does too
 * unless a test build drops it to prove RLS alone suffices. */
static PGresult *query_own(PGconn *conn, const char *sql_any, const char *sql_own, const char *id,
                           const char *user_id, struct sk_err *err)
{
	const char *params[] = {id, user_id};
	if (testhook_skip_owner_checks())
		return db_query(conn, sql_any, 1, params, err);
	return db_query(conn, sql_own, 2, params, err);
}

json_t *reading_get(PGconn *conn, const char *user_id, const char *reading_id, struct sk_err *err)
{
	PGresult *res = query_own(conn, sql_get, sql_get_own, reading_id, user_id, err);
	if (!res)
		return NULL;
	if (PQntuples(res) != 1) {
		PQclear(res);
		err_set(err, PROBLEM_NOT_FOUND, "no such reading");
		return NULL;
	}
	json_error_t jerr;
	json_t *spread = json_loads(PQgetvalue(res, 0, 4), 0, &jerr);
	const char *sealed_at = PQgetvalue(res, 0, 10);
	const char *stored = PQgetvalue(res, 0, 11);
	char *canonical = reading_canonical(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
	                                    PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), spread,
	                                    PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 6),
	                                    PQgetvalue(res, 0, 7), sealed_at);
	json_t *out = NULL;
	if (!spread || !canonical) {
		err_set(err, PROBLEM_INTERNAL, "cannot rebuild the sealed content");
		goto done;
	}
	char recomputed[SHA256_HEX_LEN + 1];
	crypto_sha256_hex(canonical, strlen(canonical), recomputed);
	out = json_pack(
	        "{s:s, s:s, s:s, s:O, s:s, s:s, s:s, s:i, s:s, s:s, s:{s:s, s:s, s:s, s:b}}", "id",
	        PQgetvalue(res, 0, 0), "question", PQgetvalue(res, 0, 2), "answer",
	        PQgetvalue(res, 0, 3), "spread", spread, "public_title", PQgetvalue(res, 0, 5),
	        "public_line", PQgetvalue(res, 0, 6), "product_code", PQgetvalue(res, 0, 7),
	        "record_version", atoi(PQgetvalue(res, 0, 8)), "created_at", PQgetvalue(res, 0, 9),
	        "sealed_at", sealed_at, "seal", "sha256", stored, "algorithm",
	        "sha256 of RFC 8785 (JCS) canonical JSON", "canonical", canonical, "verified",
	        strcmp(recomputed, stored) == 0);
	if (!out)
		err_set(err, PROBLEM_INTERNAL, "out of memory");
done:
	json_decref(spread);
	free(canonical);
	PQclear(res);
	return out;
}

static const char *const sql_public_any =
        "SELECT json_build_object('public_title', public_title, 'public_line', public_line,"
        " 'spread', spread, 'product_code', product_code, 'sealed_at', " SQL_TIME(
                "sealed_at") ","
                             " 'seal_sha256', seal_sha256) FROM public.readings WHERE id = $1";
static const char *const sql_public_own =
        "SELECT json_build_object('public_title', public_title, 'public_line', public_line,"
        " 'spread', spread, 'product_code', product_code, 'sealed_at', " SQL_TIME(
                "sealed_at") ","
                             " 'seal_sha256', seal_sha256) FROM public.readings WHERE id = $1 AND user_id = $2";

json_t *reading_public_fields(PGconn *conn, const char *user_id, const char *reading_id,
                              struct sk_err *err)
{
	PGresult *res = query_own(conn, sql_public_any, sql_public_own, reading_id, user_id, err);
	if (!res)
		return NULL;
	json_t *out = NULL;
	if (PQntuples(res) == 1) {
		json_error_t jerr;
		out = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
		if (!out)
			err_set(err, PROBLEM_INTERNAL, "the database returned no JSON");
	} else {
		err_set(err, PROBLEM_NOT_FOUND, "no such reading");
	}
	PQclear(res);
	return out;
}
