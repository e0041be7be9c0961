/*
 * shop.c — catalog import, entitlements and the unlock check (see shop.h).
 */
#include "shop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/json.h"

static const char *const layers[] = {"readings", "echo", "council", "artifacts",
                                     "passport", "shop", NULL};

static const struct json_field product_fields[] = {
        {"stripe_product_id", JSON_FIELD_STRING, true, 6, 255, NULL},
        {"code", JSON_FIELD_STRING, true, 1, 40, NULL},
        {"layer", JSON_FIELD_STRING, true, 1, 20, layers},
        {"name", JSON_FIELD_STRING, true, 1, 120, NULL},
        {"active", JSON_FIELD_BOOL, false, 0, 0, NULL},
        {"prices", JSON_FIELD_ARRAY, false, 0, 100, NULL},
};
static const struct json_field price_fields[] = {
        {"stripe_price_id", JSON_FIELD_STRING, true, 7, 255, NULL},
        {"currency", JSON_FIELD_STRING, true, 3, 3, NULL},
        {"unit_amount", JSON_FIELD_INT, true, 0, 99999999, NULL},
        {"livemode", JSON_FIELD_BOOL, false, 0, 0, NULL},
        {"active", JSON_FIELD_BOOL, false, 0, 0, NULL},
};
static const struct json_field link_fields[] = {
        {"slug", JSON_FIELD_STRING, true, 1, 63, NULL},
        {"price", JSON_FIELD_STRING, true, 7, 255, NULL},
        {"unlock_route", JSON_FIELD_STRING, true, 1, 201, NULL},
        {"channels", JSON_FIELD_ARRAY, false, 0, 9, NULL},
        {"active", JSON_FIELD_BOOL, false, 0, 0, NULL},
};
static const struct json_field catalog_fields[] = {
        {"products", JSON_FIELD_ARRAY, true, 0, 1000, NULL},
        {"purchase_links", JSON_FIELD_ARRAY, false, 0, 1000, NULL},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Each upsert returns one row when it created or changed something: (xmax = 0) is "created". */
static const char *const sql_product =
        "INSERT INTO public.products (stripe_product_id, code, layer, name, active)"
        " VALUES ($1, $2, $3, $4, $5::boolean)"
        " ON CONFLICT (stripe_product_id) DO UPDATE"
        "   SET code = EXCLUDED.code, layer = EXCLUDED.layer, name = EXCLUDED.name, active = EXCLUDED.active"
        " WHERE (public.products.code, public.products.layer, public.products.name, public.products.active)"
        "       IS DISTINCT FROM (EXCLUDED.code, EXCLUDED.layer, EXCLUDED.name, EXCLUDED.active)"
        " RETURNING (xmax = 0)";

static const char *const sql_price =
        "INSERT INTO public.prices (stripe_price_id, product_id, currency, unit_amount, livemode, active)"
        " SELECT $1, id, $3, $4::bigint, $5::boolean, $6::boolean FROM public.products WHERE stripe_product_id = $2"
        " ON CONFLICT (stripe_price_id) DO UPDATE"
        "   SET product_id = EXCLUDED.product_id, currency = EXCLUDED.currency,"
        "       unit_amount = EXCLUDED.unit_amount, livemode = EXCLUDED.livemode, active = EXCLUDED.active"
        " WHERE (public.prices.product_id, public.prices.currency, public.prices.unit_amount,"
        "        public.prices.livemode, public.prices.active)"
        "       IS DISTINCT FROM (EXCLUDED.product_id, EXCLUDED.currency, EXCLUDED.unit_amount,"
        "                         EXCLUDED.livemode, EXCLUDED.active)"
        " RETURNING (xmax = 0)";

static const char *const sql_link =
        "INSERT INTO public.purchase_links (slug, price_id, unlock_route, channels, active)"
        " SELECT $1, p.id, $3, ARRAY(SELECT json_array_elements_text($4::json)), $5::boolean"
        "   FROM public.prices p WHERE p.stripe_price_id = $2"
        " ON CONFLICT (slug) DO UPDATE"
        "   SET price_id = EXCLUDED.price_id, unlock_route = EXCLUDED.unlock_route,"
        "       channels = EXCLUDED.channels, active = EXCLUDED.active"
        " WHERE (public.purchase_links.price_id, public.purchase_links.unlock_route,"
        "        public.purchase_links.channels, public.purchase_links.active)"
        "       IS DISTINCT FROM (EXCLUDED.price_id, EXCLUDED.unlock_route, EXCLUDED.channels, EXCLUDED.active)"
        " RETURNING (xmax = 0)";

static const char *flag(const json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);
	return (v ? json_is_true(v) : dflt) ? "true" : "false";
}

/* Run an upsert and count it. exists_sql tells "unchanged" from "refers to nothing". */
static int upsert(PGconn *conn, const char *sql, int n, const char *const *params,
                  struct shop_count *count, const char *what, const char *exists_sql,
                  const char *key, struct sk_err *err)
{
	PGresult *res = db_query(conn, sql, n, params, err);
	if (!res) {
		char detail[SK_ERR_DETAIL_MAX];
		snprintf(detail, sizeof(detail), "%s %.60s: %.180s", what, key, err->detail);
		snprintf(err->detail, sizeof(err->detail), "%s", detail);
		return -1;
	}
	int rows = PQntuples(res);
	bool created = rows == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (rows == 1) {
		if (created)
			count->created++;
		else
			count->updated++;
		return 0;
	}
	const char *kp[] = {key};
	res = db_query(conn, exists_sql, 1, kp, err);
	bool exists = res && PQntuples(res) == 1;
	PQclear(res);
	if (!exists)
		return err_set(err, PROBLEM_INVALID_BODY,
		               "%s %s refers to something not in the catalog", what, key);
	count->unchanged++;
	return 0;
}

static int import_product(PGconn *conn, const json_t *p, struct shop_report *rep,
                          struct sk_err *err)
{
	if (json_check_fields(p, product_fields, COUNT(product_fields), "products[]", err) < 0)
		return -1;
	const char *pid = json_str(p, "stripe_product_id");
	const char *params[] = {pid, json_str(p, "code"), json_str(p, "layer"), json_str(p, "name"),
	                        flag(p, "active", true)};
	if (upsert(conn, sql_product, 5, params, &rep->products, "product",
	           "SELECT 1 FROM public.products WHERE stripe_product_id = $1", pid, err) < 0)
		return -1;
	size_t i;
	json_t *pr;
	json_array_foreach(json_object_get(p, "prices"), i, pr)
	{
		if (json_check_fields(pr, price_fields, COUNT(price_fields), "prices[]", err) < 0)
			return -1;
		char amount[24];
		snprintf(amount, sizeof(amount), "%lld",
		         (long long)json_integer_value(json_object_get(pr, "unit_amount")));
		const char *pp[] = {json_str(pr, "stripe_price_id"), pid,
		                    json_str(pr, "currency"),        amount,
		                    flag(pr, "livemode", false),     flag(pr, "active", true)};
		if (upsert(conn, sql_price, 6, pp, &rep->prices, "price",
		           "SELECT 1 FROM public.prices WHERE stripe_price_id = $1", pp[0],
		           err) < 0)
			return -1;
	}
	return 0;
}

static int import_link(PGconn *conn, const json_t *l, struct shop_report *rep, struct sk_err *err)
{
	if (json_check_fields(l, link_fields, COUNT(link_fields), "purchase_links[]", err) < 0)
		return -1;
	json_t *channels = json_object_get(l, "channels");
	char *ch = json_dumps(channels ? channels : json_array(), JSON_COMPACT);
	const char *params[] = {json_str(l, "slug"), json_str(l, "price"),
	                        json_str(l, "unlock_route"), ch ? ch : "[]",
	                        flag(l, "active", true)};
	int rc = upsert(conn, sql_link, 5, params, &rep->links, "purchase link",
	                "SELECT 1 FROM public.purchase_links WHERE slug = $1", params[0], err);
	free(ch);
	return rc;
}

int shop_import(PGconn *conn, const json_t *catalog, struct shop_report *rep, struct sk_err *err)
{
	memset(rep, 0, sizeof(*rep));
	if (json_check_fields(catalog, catalog_fields, COUNT(catalog_fields), NULL, err) < 0)
		return -1;
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(catalog, "products"), i, x)
	{
		if (import_product(conn, x, rep, err) < 0)
			return -1;
	}
	json_array_foreach(json_object_get(catalog, "purchase_links"), i, x)
	{
		if (import_link(conn, x, rep, err) < 0)
			return -1;
	}
	return 0;
}

json_t *shop_entitlements(PGconn *conn, struct sk_err *err)
{
	/* products are the server's: their code and name come through a security-barrier join
	 * run as service_role after RLS has chosen the person's entitlement ids. */
	PGresult *ids =
	        db_query(conn, "SELECT coalesce(json_agg(id), '[]')::text FROM public.entitlements",
	                 0, NULL, err);
	if (!ids)
		return NULL;
	char *list = strdup(PQgetvalue(ids, 0, 0));
	PQclear(ids);
	if (!list || db_set_role(conn, DB_ROLE_SERVICE, err) < 0) {
		free(list);
		return NULL;
	}
	const char *params[] = {list};
	json_t *out = db_query_json(
	        conn,
	        "SELECT json_build_object('entitlements', coalesce(json_agg(json_build_object("
	        " 'id', e.id, 'product_code', p.code, 'product_name', p.name,"
	        " 'unlock_route', e.unlock_route, 'status', e.status, 'granted_at', e.granted_at)"
	        " ORDER BY e.created_at), '[]'))::text"
	        " FROM public.entitlements e JOIN public.products p ON p.id = e.product_id"
	        " WHERE e.id IN (SELECT json_array_elements_text($1::json)::uuid)",
	        1, params, err);
	free(list);
	return out;
}

json_t *shop_unlock(PGconn *conn, const char *route, struct sk_err *err)
{
	const char *params[] = {route};
	return db_query_json(
	        conn,
	        "SELECT json_build_object('route', $1::text, 'unlocked', count(*) > 0,"
	        " 'entitlement_id', min(id::text))::text"
	        " FROM public.entitlements WHERE unlock_route = $1 AND status = 'active'",
	        1, params, err);
}
