/*
 * shop.c — the Shop's routes for a signed-in person: POST /v1/checkout,
 * POST /v1/checkout/{session_id}/confirm, GET /v1/entitlements, GET /v1/unlock?route=….
 */
#include <regex.h>
#include <string.h>

#include "call.h"
#include "domain/checkout.h"
#include "domain/shop.h"

static bool matches(const char *pattern, const char *text)
{
	regex_t re;
	if (!text || regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	bool ok = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

void api_checkout_open(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, checkout_validate) == 0) {
		json_t *out = checkout_open(c.conn, c.app->cfg, c.who.user_id, c.body, &c.err);
		api_finish(&c, out && json_is_true(json_object_get(out, "reused")) ? 200 : 201,
		           out);
	}
	api_end(&c);
}

void api_checkout_confirm(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0) {
		const char *id = req->params[0];
		if (!matches("^cs_[A-Za-z0-9_]{1,120}$", id)) {
			err_set(&c.err, PROBLEM_BAD_REQUEST, "not a Checkout Session id");
			api_finish(&c, 0, NULL);
		} else {
			api_finish(&c, 200,
			           checkout_confirm(c.conn, c.app->cfg, c.who.user_id, id, &c.err));
		}
	}
	api_end(&c);
}

void api_entitlements_list(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0)
		api_finish(&c, 200, shop_entitlements(c.conn, &c.err));
	api_end(&c);
}

void api_unlock(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0) {
		const char *route = http_query(req, "route");
		if (!matches("^/[A-Za-z0-9/_-]{0,200}$", route)) {
			err_set(&c.err, PROBLEM_BAD_REQUEST, "route must be a path like /council");
			api_finish(&c, 0, NULL);
		} else {
			api_finish(&c, 200, shop_unlock(c.conn, route, &c.err));
		}
	}
	api_end(&c);
}
