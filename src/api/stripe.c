/*
 * stripe.c — POST /v1/stripe/webhook: Stripe's deliveries.
 *
 * The raw body is verified against Stripe-Signature before anything is parsed (an unsigned,
 * forged, stale or oversized request is answered 400, or 413, with nothing stored); a
 * verified event is stored and committed — group-committed with the deliveries arriving at
 * the same moment (stripe_ingest.h), the request parked meanwhile — then answered 200.
 * Processing runs later as its stripe_event_job, so Stripe is never kept waiting on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/app.h"
#include "core/log.h"
#include "core/metrics.h"
#include "domain/stripe_event.h"
#include "domain/stripe_ingest.h"
#include "domain/stripe_signature.h"

static void refuse(struct http_request *req, struct http_response *res, enum stripe_sig why)
{
	struct sk_err err = {0};
	err_set(&err, PROBLEM_BAD_REQUEST, "the Stripe-Signature header does not verify this body");
	err_code(&err, stripe_signature_reason(why));
	metrics_count("scrollkeep_stripe_webhook_refused_total",
	              "Stripe webhook requests refused before anything was stored, by reason",
	              "reason", stripe_signature_reason(why));
	log_emit(LOG_WARN, "stripe_webhook_refused",
	         (struct log_field[]){LF_STR("request_id", req->request_id),
	                              LF_STR("reason_code", stripe_signature_reason(why)), LF_END});
	http_respond_problem(res, req, &err);
}

/* A delivery in the group commit, and the request it answers. */
struct webhook_delivery {
	struct stripe_delivery delivery; /* first: the ingest hands back its address */
	struct http_request *req;
};

static void stored(struct stripe_delivery *d)
{
	http_resume(((struct webhook_delivery *)d)->req);
}

/* The answer once the group commit is done with the delivery. */
static void answer(struct http_request *req, struct http_response *res,
                   const struct stripe_delivery *d)
{
	if (d->rc < 0) {
		http_respond_problem(res, req, &d->err);
		return;
	}
	metrics_count("scrollkeep_stripe_webhook_received_total",
	              "verified Stripe events received, by what became of them", "as",
	              d->out.duplicate                        ? "duplicate"
	              : strcmp(d->out.status, "ignored") == 0 ? "ignored"
	                                                      : "new");
	http_respond_json(res, 200,
	                  json_pack("{s:b, s:s, s:b}", "received", 1, "status", d->out.status,
	                            "duplicate", d->out.duplicate));
}

void api_stripe_webhook(struct http_request *req, struct http_response *res)
{
	struct app *app = req->app;
	struct webhook_delivery *w = req->deferred;
	if (w) /* resumed: stored, or failed */
		return answer(req, res, &w->delivery);
	struct sk_err err = {0};
	char storage[1024];
	const char *secrets[STRIPE_SIG_MAX_SECRETS];
	size_t nsecrets =
	        stripe_signature_secrets(app->cfg->stripe_webhook_secret, storage, sizeof(storage),
	                                 secrets, STRIPE_SIG_MAX_SECRETS);
	if (nsecrets == 0) {
		err_set(&err, PROBLEM_UNAVAILABLE, "STRIPE_WEBHOOK_SECRET is not configured");
		http_respond_problem(res, req, &err);
		return;
	}
	enum stripe_sig sig = stripe_signature_verify(http_header(req, "Stripe-Signature"),
	                                              req->body, req->body ? req->body_len : 0,
	                                              secrets, nsecrets, time(NULL));
	if (sig != STRIPE_SIG_OK)
		return refuse(req, res, sig);

	w = calloc(1, sizeof(*w));
	if (!w)
		err_set(&err, PROBLEM_INTERNAL, "out of memory");
	if (!w || stripe_event_parse(req->body, req->body_len, &w->delivery.ev, &err) < 0) {
		free(w);
		http_respond_problem(res, req, &err);
		return;
	}
	w->delivery.done = stored;
	w->req = req;
	http_defer(req, w, free);
	stripe_ingest_submit(app->stripe_ingest, &w->delivery);
}
