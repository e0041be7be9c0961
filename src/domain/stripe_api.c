/*
 * stripe_api.c — calls to the Stripe API (see stripe_api.h).
 */
#include "stripe_api.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/http_client.h"

#define STRIPE_MAX_ANSWER (2u * 1024u * 1024u)

/* Stripe's own words about an error: its type and code, never the message (which can quote
 * what was sent). */
static void stripe_error(const char *body, long status, struct sk_err *err)
{
	json_error_t jerr;
	json_t *doc = json_loads(body ? body : "", 0, &jerr);
	json_t *e = json_object_get(doc, "error");
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *code = json_string_value(json_object_get(e, "code"));
	err_set(err, PROBLEM_BAD_GATEWAY, "Stripe answered %ld (%s%s%s)", status,
	        type ? type : "no error type", code ? ", " : "", code ? code : "");
	json_decref(doc);
}

/* SCROLLKEEP_STRIPE_TIMEOUT_MS (default 20 s): how long a call may take in all. */
static long timeout_ms(void)
{
	const char *v = config_env("SCROLLKEEP_STRIPE_TIMEOUT_MS");
	long ms = v ? strtol(v, NULL, 10) : 20000;
	return ms < 100 ? 100 : ms > 120000 ? 120000 : ms;
}

static json_t *perform(const struct config *cfg, const char *path, const char *form,
                       const char *idempotency_key, struct sk_err *err)
{
	if (!cfg->stripe_secret_key || !*cfg->stripe_secret_key) {
		err_set(err, PROBLEM_BAD_GATEWAY, "STRIPE_SECRET_KEY is not configured");
		return NULL;
	}
	char url[2048], auth[600], idem[320];
	const char *base = cfg->stripe_api_base ? cfg->stripe_api_base : "https://api.stripe.com";
	size_t blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	snprintf(url, sizeof(url), "%.*s%s", (int)blen, base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->stripe_secret_key);
	snprintf(idem, sizeof(idem), "Idempotency-Key: %s", idempotency_key ? idempotency_key : "");
	const char *headers[] = {auth, "Stripe-Version: 2024-06-20", idempotency_key ? idem : NULL,
	                         NULL};
	struct http_client_request rq = {.method = form ? "POST" : "GET",
	                                 .url = url,
	                                 .headers = headers,
	                                 .body = form,
	                                 .timeout_ms = timeout_ms(),
	                                 .max_answer = STRIPE_MAX_ANSWER};
	struct http_client_answer an;
	json_t *doc = NULL;
	if (http_client_send(&rq, &an) < 0) {
		err_set(err, PROBLEM_BAD_GATEWAY, "Stripe could not be reached (%s)", an.error);
	} else if (an.status < 200 || an.status > 299) {
		stripe_error(an.body, an.status, err);
	} else {
		json_error_t jerr;
		doc = json_loads(an.body ? an.body : "", 0, &jerr);
		if (!json_is_object(doc)) {
			json_decref(doc);
			doc = NULL;
			err_set(err, PROBLEM_BAD_GATEWAY, "Stripe's answer is not a JSON object");
		}
	}
	free(an.body);
	return doc;
}

json_t *stripe_api_post(const struct config *cfg, const char *path, const char *const *form,
                        const char *idempotency_key, struct sk_err *err)
{
	struct buf body = {0};
	for (size_t i = 0; form[i] && form[i + 1]; i += 2) {
		char *k = curl_easy_escape(NULL, form[i], 0);
		char *v = curl_easy_escape(NULL, form[i + 1], 0);
		if (k && v)
			buf_printf(&body, "%s%s=%s", i ? "&" : "", k, v);
		curl_free(k);
		curl_free(v);
	}
	char *text = buf_take(&body);
	json_t *out = text ? perform(cfg, path, text, idempotency_key, err) : NULL;
	if (!text)
		err_set(err, PROBLEM_INTERNAL, "out of memory");
	free(text);
	return out;
}

json_t *stripe_api_get(const struct config *cfg, const char *path_and_query, struct sk_err *err)
{
	return perform(cfg, path_and_query, NULL, NULL, err);
}
