/*
 * consent.c — the consent ledger's SQL and JSON shapes.
 */
#include "consent.h"

#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "core/json.h"

const char *const consent_purposes[] = {"email_delivery",
                                        "passport_sync",
                                        "public_share",
                                        "gift_delivery",
                                        "ai_processing",
                                        "marketing",
                                        NULL};

static const char *const actions[] = {"granted", "withdrawn", NULL};
static const char *const methods[] = {"web_form", "in_app", "email_link", "api",
                                      "support",  "import", NULL};

bool consent_purpose_known(const char *purpose)
{
	for (const char *const *p = consent_purposes; *p; p++)
		if (strcmp(*p, purpose) == 0)
			return true;
	return false;
}

static const struct json_field fields[] = {
        {"purpose", JSON_FIELD_STRING, true, 1, 40, consent_purposes},
        {"action", JSON_FIELD_STRING, true, 1, 20, actions},
        {"notice_version", JSON_FIELD_STRING, true, 1, 64, NULL},
        {"notice_sha256", JSON_FIELD_STRING, true, 64, 64, NULL},
        {"language", JSON_FIELD_STRING, true, 2, 35, NULL},
        {"jurisdiction", JSON_FIELD_STRING, true, 2, 6, NULL},
        {"method", JSON_FIELD_STRING, true, 1, 20, methods},
        {"source", JSON_FIELD_STRING, false, 1, 80, NULL},
        {"valid_until", JSON_FIELD_TIMESTAMP, false, 20, 35, NULL},
};

static bool all_chars(const char *s, const char *allowed_extra, bool lower_hex_only)
{
	for (; *s; s++) {
		char c = *s;
		bool ok = lower_hex_only ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
		                         : ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		                            (c >= '0' && c <= '9') || strchr(allowed_extra, c));
		if (!ok)
			return false;
	}
	return true;
}

int consent_validate(const json_t *body, struct sk_err *err)
{
	if (json_check_fields(body, fields, sizeof(fields) / sizeof(fields[0]), NULL, err) < 0)
		return -1;
	/* The database checks these shapes too; checking here gives a precise message. */
	if (!all_chars(json_str(body, "notice_sha256"), "", true))
		return err_set(err, PROBLEM_INVALID_BODY,
		               "notice_sha256 must be 64 lower-case hex digits");
	if (!all_chars(json_str(body, "notice_version"), "._-", false))
		return err_set(err, PROBLEM_INVALID_BODY,
		               "notice_version may hold letters, digits, . _ -");
	if (!all_chars(json_str(body, "language"), "-", false))
		return err_set(err, PROBLEM_INVALID_BODY,
		               "language must be a BCP 47 tag such as en or pt-BR");
	if (!all_chars(json_str(body, "jurisdiction"), "-", false))
		return err_set(err, PROBLEM_INVALID_BODY,
		               "jurisdiction must be an ISO 3166 code such as DE or US-CA");
	const char *source = json_str(body, "source");
	if (source && !all_chars(source, "._:/-", false))
		return err_set(err, PROBLEM_INVALID_BODY,
		               "source may hold letters, digits, . _ : / -");
	if (json_str(body, "valid_until") && strcmp(json_str(body, "action"), "granted") != 0)
		return err_set(err, PROBLEM_INVALID_BODY, "valid_until applies to a grant only");
	return 0;
}

/* One event as the API shows it (a consent receipt's fields). */
#define SQL_EVENT_JSON                                                                             \
	"json_build_object('id', e.id, 'receipt_id', e.receipt_id, 'purpose', e.purpose,"          \
	" 'action', e.action, 'notice', json_build_object('version', e.notice_version,"            \
	" 'sha256', e.notice_sha256, 'language', e.language), 'jurisdiction', e.jurisdiction,"     \
	" 'method', e.method, 'actor', e.actor, 'source', e.source, 'valid_from', e.valid_from,"   \
	" 'valid_until', e.valid_until, 'recorded_at', e.recorded_at)"

static const char *const sql_record =
        "WITH e AS (INSERT INTO public.consent_events (user_id, purpose, action, notice_version,"
        "  notice_sha256, language, jurisdiction, method, actor, source, valid_until)"
        "  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::timestamptz) RETURNING *)"
        "SELECT " SQL_EVENT_JSON " FROM e";

/* Run a one-row, one-column statement returning JSON text, parsed. */
static json_t *query_json(PGconn *conn, const char *sql, int n, const char *const *params,
                          struct sk_err *err)
{
	PGresult *res = db_query(conn, sql, n, params, err);
	if (!res)
		return NULL;
	json_t *out = NULL;
	if (PQntuples(res) == 1) {
		json_error_t jerr;
		out = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	}
	PQclear(res);
	if (!out)
		err_set(err, PROBLEM_INTERNAL, "the database returned no JSON");
	return out;
}

json_t *consent_record(PGconn *conn, const char *user_id, const json_t *body, const char *actor,
                       struct sk_err *err)
{
	const char *source = json_str(body, "source");
	const char *params[] = {user_id,
	                        json_str(body, "purpose"),
	                        json_str(body, "action"),
	                        json_str(body, "notice_version"),
	                        json_str(body, "notice_sha256"),
	                        json_str(body, "language"),
	                        json_str(body, "jurisdiction"),
	                        json_str(body, "method"),
	                        actor,
	                        source ? source : "api",
	                        json_str(body, "valid_until")};
	if (db_set_role(conn, DB_ROLE_SERVICE, err) < 0)
		return NULL;
	return query_json(conn, sql_record, 11, params, err);
}

json_t *consent_current(PGconn *conn, const char *user_id, struct sk_err *err)
{
	const char *params[] = {user_id};
	return query_json(
	        conn,
	        "SELECT json_build_object('purposes', json_object_agg(p, "
	        "scrollkeep.consent_state($1::uuid, p) ORDER BY o))"
	        "  FROM unnest(ARRAY['email_delivery','passport_sync','public_share',"
	        "'gift_delivery','ai_processing','marketing']) WITH ORDINALITY AS t(p, o)",
	        1, params, err);
}

json_t *consent_history(PGconn *conn, const char *user_id, struct sk_err *err)
{
	const char *params[] = {user_id};
	return query_json(conn,
	                  "SELECT json_build_object('events', coalesce(json_agg(" SQL_EVENT_JSON
	                  " ORDER BY e.id), '[]'::json))"
	                  "  FROM public.consent_events e WHERE e.user_id = $1",
	                  1, params, err);
}

int consent_require(PGconn *conn, const char *user_id, const char *const *purposes, size_t n,
                    struct sk_err *err)
{
	if (n == 0)
		return 0;
	char list[256] = "{";
	for (size_t i = 0; i < n; i++) {
		strncat(list, purposes[i], sizeof(list) - strlen(list) - 2);
		strncat(list, i + 1 < n ? "," : "}", sizeof(list) - strlen(list) - 1);
	}
	const char *params[] = {user_id, list};
	PGresult *res = db_query(conn,
	                         "SELECT coalesce(string_agg(p, ',' ORDER BY o), '')"
	                         "  FROM unnest($2::text[]) WITH ORDINALITY AS t(p, o)"
	                         " WHERE scrollkeep.consent_state($1::uuid, p) <> 'granted'",
	                         2, params, err);
	if (!res)
		return -1;
	char missing[128];
	snprintf(missing, sizeof(missing), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!missing[0])
		return 0;
	err_set(err, PROBLEM_CONSENT_REQUIRED, "this needs consent that is not granted: %s",
	        missing);
	if (err)
		snprintf(err->missing_consent, sizeof(err->missing_consent), "%s", missing);
	return -1;
}
