/*
 * fulfill.c — fulfillment (see fulfill.h).
 */
#include "fulfill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/json.h"
#include "domain/artifact.h"
#include "jobs/queue.h"

static bool has_channel(const json_t *channels, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(channels, i, c)
	{
		if (json_is_string(c) && strcmp(json_string_value(c), name) == 0)
			return true;
	}
	return false;
}

static const char *const sql_stamp =
        "WITH p AS (INSERT INTO public.passports (user_id)"
        "           SELECT $1 WHERE scrollkeep.consent_state($1::uuid, 'passport_sync') = 'granted'"
        "           ON CONFLICT (user_id) DO UPDATE SET updated_at = now() RETURNING user_id)"
        "INSERT INTO public.passport_stamps (user_id, reading_id, kind, label)"
        "SELECT p.user_id, $2::uuid, 'purchase', left(pr.name, 120) FROM p,"
        "       public.payments pay JOIN public.entitlements e ON e.payment_id = pay.id"
        "       JOIN public.products pr ON pr.id = e.product_id"
        " WHERE pay.id = $3 ON CONFLICT DO NOTHING";

/* The artifacts the link delivers for the session's reading. A kind whose consent is missing
 * now (share_card without public_share) is skipped, not an error: the purchase stands. */
static int request_artifacts(PGconn *conn, const char *user_id, const char *reading_id,
                             const json_t *channels, struct sk_err *err)
{
	static const char *const kinds[] = {"pdf", "private_pdf", "share_card", "print_view"};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (!has_channel(channels, kinds[i]))
			continue;
		json_t *body = json_pack("{s:s}", "kind", kinds[i]);
		json_t *out = artifact_request(conn, user_id, reading_id, body, err);
		json_decref(body);
		if (!out && err->problem != PROBLEM_CONSENT_REQUIRED)
			return -1;
		json_decref(out);
	}
	return 0;
}

/* The deliveries due when an entitlement first becomes active. */
static int deliver(PGconn *conn, const json_t *verdict, struct sk_err *err)
{
	if (!json_is_true(json_object_get(verdict, "newly_active")))
		return 0;
	const char *user = json_str(verdict, "user_id");
	const char *payment = json_str(verdict, "payment_id");
	const char *reading = json_str(verdict, "reading_id");
	const json_t *channels = json_object_get(verdict, "channels");
	if (!user || !payment)
		return 0; /* a pseudonymized buyer: nobody to deliver to */
	if (has_channel(channels, "receipt")) {
		char key[64];
		snprintf(key, sizeof(key), "receipt:%s", payment);
		json_t *payload = json_pack("{s:s, s:s}", "payment_id", payment, "user_id", user);
		int rc = queue_enqueue(conn, "receipt_email_job", payload, key, NULL, NULL, err);
		json_decref(payload);
		if (rc < 0)
			return -1;
	}
	const char *params[] = {user, reading, payment};
	if (db_exec(conn, sql_stamp, 3, params, err) < 0)
		return -1;
	if (reading && request_artifacts(conn, user, reading, channels, err) < 0)
		return -1;
	return db_set_role(conn, DB_ROLE_SERVICE, err);
}

static json_t *verdict_of(PGresult *res, struct sk_err *err)
{
	if (!res)
		return NULL;
	json_error_t jerr;
	json_t *v = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	PQclear(res);
	if (!v)
		err_set(err, PROBLEM_INTERNAL, "the ledger's answer is not JSON");
	return v;
}

static json_t *with_deliveries(PGconn *conn, json_t *verdict, struct sk_err *err)
{
	if (verdict && deliver(conn, verdict, err) < 0) {
		json_decref(verdict);
		return NULL;
	}
	return verdict;
}

json_t *fulfill_event(PGconn *conn, long long row_id, bool force, struct sk_err *err)
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", row_id);
	const char *params[] = {id, force ? "true" : "false"};
	PGresult *res = db_query(conn, "SELECT scrollkeep.process_stripe_event($1, $2::boolean)", 2,
	                         params, err);
	return with_deliveries(conn, verdict_of(res, err), err);
}

json_t *fulfill_session(PGconn *conn, const json_t *session, struct sk_err *err)
{
	const char *id = json_str(session, "id");
	char *text = json_dumps(session, JSON_COMPACT);
	char cause[300];
	snprintf(cause, sizeof(cause), "confirm:%s", id ? id : "");
	const char *params[] = {text, cause};
	PGresult *res =
	        text ? db_query(
	                       conn,
	                       "SELECT scrollkeep.apply_checkout_session($1::jsonb, 'confirm', $2)",
	                       2, params, err)
	             : NULL;
	free(text);
	return with_deliveries(conn, verdict_of(res, err), err);
}
