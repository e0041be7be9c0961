/*
 * checkout.c — opening and confirming Checkout Sessions (see checkout.h).
 */
#include "checkout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/db.h"
#include "core/json.h"
#include "domain/consent.h"
#include "domain/fulfill.h"
#include "domain/stripe_api.h"

static const struct json_field checkout_fields[] = {
        {"slug", JSON_FIELD_STRING, true, 1, 63, NULL},
        {"reading_id", JSON_FIELD_UUID, false, 36, 36, NULL},
};

int checkout_validate(const json_t *body, struct sk_err *err)
{
	return json_check_fields(body, checkout_fields,
	                         sizeof(checkout_fields) / sizeof(checkout_fields[0]), NULL, err);
}

/* The consent each delivery channel needs (NULL: none). */
static const char *channel_purpose(const char *channel)
{
	static const char *const map[][2] = {
	        {"receipt", "email_delivery"},    {"email", "email_delivery"},
	        {"echo_email", "email_delivery"}, {"share_card", "public_share"},
	        {"gift", "gift_delivery"},        {"passport", "passport_sync"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(channel, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

static const char *const sql_link =
        "SELECT l.id, l.slug, p.stripe_price_id, array_to_json(l.channels)::text"
        "  FROM public.purchase_links l JOIN public.prices p ON p.id = l.price_id"
        "  JOIN public.products pr ON pr.id = p.product_id"
        " WHERE l.slug = $1 AND l.active AND p.active AND pr.active";

static const char *const sql_open =
        "SELECT stripe_checkout_session_id, url, to_json(expires_at) #>> '{}',"
        "       reading_id IS NOT DISTINCT FROM $3::uuid"
        "  FROM public.checkout_sessions"
        " WHERE user_id = $1 AND purchase_link_id = $2 AND status = 'open'";

static const char *const sql_insert =
        "INSERT INTO public.checkout_sessions (stripe_checkout_session_id, user_id, purchase_link_id,"
        "  reading_id, url, amount_total, currency, livemode, idempotency_key, expires_at)"
        " VALUES ($1, $2, $3, $4::uuid, $5, $6::bigint, $7, $8::boolean, $9, to_timestamp($10::bigint))"
        " RETURNING id, to_json(expires_at) #>> '{}'";

/* The consents the link's channels need, every one missing named. */
static int require_channels(PGconn *conn, const char *user_id, const char *channels_json,
                            struct sk_err *err)
{
	json_error_t jerr;
	json_t *channels = json_loads(channels_json, 0, &jerr);
	const char *purposes[16];
	size_t n = 0, i;
	json_t *c;
	json_array_foreach(channels, i, c)
	{
		const char *p = json_is_string(c) ? channel_purpose(json_string_value(c)) : NULL;
		bool seen = false;
		for (size_t k = 0; p && k < n; k++)
			seen = seen || strcmp(purposes[k], p) == 0;
		if (p && !seen && n < 16)
			purposes[n++] = p;
	}
	int rc = n ? consent_require(conn, user_id, purposes, n, err) : 0;
	json_decref(channels);
	return rc;
}

static json_t *open_session_answer(PGresult *res, bool reused)
{
	return json_pack("{s:s, s:s, s:s, s:b}", "checkout_session_id", PQgetvalue(res, 0, 0),
	                 "url", PQgetvalue(res, 0, 1), "expires_at", PQgetvalue(res, 0, 2),
	                 "reused", reused);
}

/* Create the session at Stripe and store it. */
static json_t *create_session(PGconn *conn, const struct config *cfg, const char *user_id,
                              const char *link_id, const char *slug, const char *price,
                              const char *reading_id, struct sk_err *err)
{
	char key[64], uuid[37], success[1200], cancel[1200];
	if (crypto_uuid_v4(uuid) < 0) {
		err_set(err, PROBLEM_INTERNAL, "no randomness");
		return NULL;
	}
	snprintf(key, sizeof(key), "checkout:%s", uuid);
	const char *site = cfg->site_url ? cfg->site_url : "http://localhost:3000";
	snprintf(success, sizeof(success), "%s/checkout/success?session_id={CHECKOUT_SESSION_ID}",
	         site);
	snprintf(cancel, sizeof(cancel), "%s/shop/%s", site, slug);
	const char *form[] = {"mode",
	                      "payment",
	                      "line_items[0][price]",
	                      price,
	                      "line_items[0][quantity]",
	                      "1",
	                      "client_reference_id",
	                      user_id,
	                      "metadata[purchase_link]",
	                      slug,
	                      "metadata[checkout]",
	                      key,
	                      "success_url",
	                      success,
	                      "cancel_url",
	                      cancel,
	                      NULL};
	json_t *s = stripe_api_post(cfg, "/v1/checkout/sessions", form, key, err);
	if (!s)
		return NULL;
	const char *id = json_str(s, "id"), *url = json_str(s, "url"),
	           *currency = json_str(s, "currency");
	json_t *amount = json_object_get(s, "amount_total"),
	       *expires = json_object_get(s, "expires_at");
	char amount_s[24], expires_s[24];
	if (!id || strncmp(id, "cs_", 3) != 0 || !url || !json_is_integer(amount) || !currency ||
	    !json_is_integer(expires)) {
		json_decref(s);
		err_set(err, PROBLEM_BAD_GATEWAY,
		        "Stripe's Checkout Session lacks id, url, amount or expiry");
		return NULL;
	}
	snprintf(amount_s, sizeof(amount_s), "%lld", (long long)json_integer_value(amount));
	snprintf(expires_s, sizeof(expires_s), "%lld", (long long)json_integer_value(expires));
	const char *params[] = {
	        id,       user_id,
	        link_id,  reading_id,
	        url,      amount_s,
	        currency, json_is_true(json_object_get(s, "livemode")) ? "true" : "false",
	        key,      expires_s};
	PGresult *res = db_query(conn, sql_insert, 10, params, err);
	json_t *out = NULL;
	if (res) {
		out = json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", PQgetvalue(res, 0, 0),
		                "checkout_session_id", id, "url", url, "expires_at",
		                PQgetvalue(res, 0, 1), "reused", 0);
		PQclear(res);
	}
	json_decref(s);
	return out;
}

json_t *checkout_open(PGconn *conn, const struct config *cfg, const char *user_id,
                      const json_t *body, struct sk_err *err)
{
	const char *slug = json_str(body, "slug");
	const char *reading = json_str(body, "reading_id");
	if (reading) { /* the person's own reading, under RLS */
		const char *p[] = {reading};
		PGresult *r =
		        db_query(conn, "SELECT 1 FROM public.readings WHERE id = $1", 1, p, err);
		bool mine = r && PQntuples(r) == 1;
		PQclear(r);
		if (!mine) {
			if (!err->problem)
				err_set(err, PROBLEM_NOT_FOUND, "no such reading");
			return NULL;
		}
	}
	if (db_set_role(conn, DB_ROLE_SERVICE, err) < 0)
		return NULL;
	const char *lp[] = {slug};
	PGresult *link = db_query(conn, sql_link, 1, lp, err);
	if (!link)
		return NULL;
	if (PQntuples(link) != 1) {
		PQclear(link);
		err_set(err, PROBLEM_NOT_FOUND, "no such purchase link on sale");
		return NULL;
	}
	char link_id[37], price[260];
	snprintf(link_id, sizeof(link_id), "%s", PQgetvalue(link, 0, 0));
	snprintf(price, sizeof(price), "%s", PQgetvalue(link, 0, 2));
	int gate = require_channels(conn, user_id, PQgetvalue(link, 0, 3), err);
	PQclear(link);
	if (gate < 0)
		return NULL;

	/* One person, one link: concurrent requests take turns here until this one commits. */
	const char *lk[] = {user_id, link_id};
	if (db_exec(conn,
	            "SELECT pg_advisory_xact_lock(hashtextextended('checkout:' || $1 || ':' || $2, 0))",
	            2, lk, err) < 0)
		return NULL;
	const char *op[] = {user_id, link_id, reading};
	PGresult *open = db_query(conn, sql_open, 3, op, err);
	if (!open)
		return NULL;
	json_t *out = NULL;
	if (PQntuples(open) == 1 && strcmp(PQgetvalue(open, 0, 3), "t") == 0)
		out = open_session_answer(open, true);
	else if (PQntuples(open) == 1)
		err_set(err, PROBLEM_CONFLICT,
		        "a checkout for this link is open for another reading");
	else
		out = create_session(conn, cfg, user_id, link_id, slug, price, reading, err);
	PQclear(open);
	return out;
}

json_t *checkout_confirm(PGconn *conn, const struct config *cfg, const char *user_id,
                         const char *stripe_session_id, struct sk_err *err)
{
	if (db_set_role(conn, DB_ROLE_SERVICE, err) < 0)
		return NULL;
	const char *p[] = {stripe_session_id, user_id};
	PGresult *r = db_query(conn,
	                       "SELECT 1 FROM public.checkout_sessions"
	                       " WHERE stripe_checkout_session_id = $1 AND user_id = $2",
	                       2, p, err);
	bool mine = r && PQntuples(r) == 1;
	PQclear(r);
	if (!mine) {
		if (!err->problem)
			err_set(err, PROBLEM_NOT_FOUND, "no such checkout session");
		return NULL;
	}
	char path[320];
	snprintf(path, sizeof(path), "/v1/checkout/sessions/%s", stripe_session_id);
	json_t *session = stripe_api_get(cfg, path, err);
	if (!session)
		return NULL;
	if (!json_str(session, "id") || strcmp(json_str(session, "id"), stripe_session_id) != 0) {
		json_decref(session);
		err_set(err, PROBLEM_BAD_GATEWAY, "Stripe answered with another session");
		return NULL;
	}
	json_t *verdict = fulfill_session(conn, session, err);
	json_decref(session);
	if (!verdict)
		return NULL;
	json_decref(verdict);
	PGresult *st = db_query(
	        conn,
	        "SELECT s.outcome, (SELECT json_build_object('status', e.status, 'unlock_route',"
	        "        e.unlock_route) FROM public.payments pay JOIN public.entitlements e"
	        "        ON e.payment_id = pay.id WHERE pay.checkout_session_id = s.id)::text"
	        "  FROM public.checkout_sessions s WHERE s.stripe_checkout_session_id = $1",
	        1, p, err);
	if (!st)
		return NULL;
	json_error_t jerr;
	json_t *ent =
	        PQgetisnull(st, 0, 1) ? json_null() : json_loads(PQgetvalue(st, 0, 1), 0, &jerr);
	json_t *out =
	        json_pack("{s:s, s:s, s:o}", "checkout_session_id", stripe_session_id, "outcome",
	                  PQgetvalue(st, 0, 0), "entitlement", ent ? ent : json_null());
	PQclear(st);
	return out;
}
