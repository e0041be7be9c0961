/*
 * shop.h — the catalog (products, prices, purchase links) and what a person holds.
 *
 * `scrollkeep shop import FILE.json` upserts the catalog in one transaction: each row is
 * created, updated (only when something differs) or left unchanged, matched by its Stripe id
 * (products, prices) or slug (purchase links), and the report says which. A bad file writes
 * nothing. The file:
 *
 *   {"products": [{"stripe_product_id", "code", "layer", "name", "active"?,
 *                  "prices": [{"stripe_price_id", "currency", "unit_amount", "livemode"?,
 * "active"?}]}], "purchase_links": [{"slug", "price" (a stripe_price_id), "unlock_route",
 * "channels"?, "active"?}]}
 */
#ifndef SK_SHOP_H
#define SK_SHOP_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/err.h"

struct shop_count {
	int created, updated, unchanged;
};

struct shop_report {
	struct shop_count products, prices, links;
};

/* Import catalog in the caller's transaction (as service_role). */
int shop_import(PGconn *conn, const json_t *catalog, struct shop_report *report,
                struct sk_err *err);

/* {"entitlements": [{id, product_code, product_name, unlock_route, status, granted_at}]}: the
 * person's own, read under RLS (the caller's transaction runs as authenticated). */
json_t *shop_entitlements(PGconn *conn, struct sk_err *err);

/* {"route", "unlocked", "entitlement_id"}: whether the person holds an active entitlement
 * for route now (under RLS). */
json_t *shop_unlock(PGconn *conn, const char *route, struct sk_err *err);

#endif
