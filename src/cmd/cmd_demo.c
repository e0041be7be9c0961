/*
 * cmd_demo.c — `scrollkeep demo [--server URL] [--wait SECONDS]`: walk a synthetic person
 * through the whole product on a running server and worker (what `make run` starts), through
 * the real API: consent, a sealed reading, a purchase through a signed webhook, the jobs that
 * render and deliver, an export, a deletion and its proof. Each step prints the rows, jobs and
 * audit events it made, so the trail can be followed, and the lab page shows it live after.
 *
 * Two things are done beside the API, because no local stand-in exists for them: the demo
 * catalog is imported as `scrollkeep shop import` would, and the Checkout Session Stripe would
 * have made is recorded as POST /v1/checkout records one (the completion then arrives as a
 * real, signed webhook). The person is synthetic (an address under .invalid) and forgotten at
 * the end.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/http_client.h"
#include "core/json.h"
#include "core/jwt.h"
#include "core/num.h"
#include "domain/audit.h"
#include "domain/lab.h"
#include "domain/shop.h"

struct demo {
	const struct config *cfg;
	PGconn *db; /* service_role, one statement per transaction */
	char server[256];
	int wait_s;
	char user[37];
	char *token;
	long long audit_from;
	json_t *counts;
};

/* ---- what each step made ---- */

static const char *const counted[] = {
        "consent_events",     "readings",           "passport_stamps", "checkout_sessions",
        "payments",           "entitlements",       "stripe_events",   "delivery_jobs",
        "email_messages",     "oracle_artifacts",   "data_exports",    "deletion_requests",
        "erasure_tombstones", "admin_audit_events",
};

static json_t *table_counts(struct demo *d)
{
	char sql[2048] = "SELECT json_build_object(";
	for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++) {
		char part[160];
		snprintf(part, sizeof(part), "%s'%s', (SELECT count(*) FROM public.%s)",
		         i ? ", " : "", counted[i], counted[i]);
		strncat(sql, part, sizeof(sql) - strlen(sql) - 2);
	}
	strncat(sql, ")", sizeof(sql) - strlen(sql) - 1);
	struct sk_err err = {0};
	return db_query_json(d->db, sql, 0, NULL, &err);
}

/* Print the rows the step added or removed, and the audit events it wrote. */
static void print_trail(struct demo *d)
{
	json_t *now = table_counts(d);
	printf("   rows:");
	int shown = 0;
	const char *table;
	json_t *n;
	json_object_foreach(now, table, n)
	{
		json_int_t delta = json_integer_value(n) -
		                   json_integer_value(json_object_get(d->counts, table));
		if (delta && strcmp(table, "admin_audit_events") != 0)
			printf("%s %+lld %s", shown++ ? "," : "", (long long)delta, table);
	}
	printf("%s\n", shown ? "" : " none");
	/* The money's events wait in the outbox for the worker's next flush: flush them now. */
	int moved;
	struct sk_err ferr = {0};
	audit_flush(d->db, &moved, &ferr);
	char from[24];
	snprintf(from, sizeof(from), "%lld", d->audit_from);
	const char *params[] = {from};
	struct sk_err err = {0};
	PGresult *res =
	        db_query(d->db,
	                 "SELECT chain_seq, action, coalesce(subject_type || ':' || subject_id, '')"
	                 " FROM public.admin_audit_events WHERE chain_seq > $1 ORDER BY chain_seq",
	                 1, params, &err);
	for (int i = 0; res && i < PQntuples(res); i++) {
		printf("   audit #%s %s %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		       PQgetvalue(res, i, 2));
		d->audit_from = atoll(PQgetvalue(res, i, 0));
	}
	PQclear(res);
	json_decref(d->counts);
	d->counts = now;
}

static void print_jobs(struct demo *d)
{
	const char *params[] = {d->user};
	struct sk_err err = {0};
	PGresult *res =
	        db_query(d->db,
	                 "SELECT kind, status, support_ref, attempts FROM public.delivery_jobs"
	                 " WHERE user_id = $1 ORDER BY id",
	                 1, params, &err);
	for (int i = 0; res && i < PQntuples(res); i++)
		printf("   job %-24s %-10s %s (%s attempt%s)\n", PQgetvalue(res, i, 0),
		       PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		       strcmp(PQgetvalue(res, i, 3), "1") ? "s" : "");
	PQclear(res);
}

/* ---- the API ---- */

/* Call the server with body (JSON) or raw (exact bytes, for a signed webhook); returns the
 * answer's JSON (the caller decrefs) and its status. header replaces the Authorization. */
static json_t *call_raw(struct demo *d, const char *method, const char *path, const json_t *body,
                        const char *raw, const char *header, long *status)
{
	char url[512], auth[2048];
	snprintf(url, sizeof(url), "%s%s", d->server, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", d->token ? d->token : "");
	char *text = raw ? strdup(raw) : body ? json_dumps(body, JSON_COMPACT) : NULL;
	const char *headers[] = {"Content-Type: application/json", header ? header : auth, NULL};
	struct http_client_request rq = {.method = method,
	                                 .url = url,
	                                 .headers = headers,
	                                 .body = text,
	                                 .timeout_ms = 30000,
	                                 .max_answer = 4u * 1024u * 1024u};
	struct http_client_answer an;
	int rc = http_client_send(&rq, &an);
	free(text);
	*status = rc < 0 ? 0 : an.status;
	json_error_t jerr;
	json_t *doc = an.body ? json_loads(an.body, 0, &jerr) : NULL;
	free(an.body);
	return doc;
}

static json_t *api(struct demo *d, const char *method, const char *path, const json_t *body,
                   long *status)
{
	return call_raw(d, method, path, body, NULL, NULL, status);
}

static int fail(const char *step, const char *why)
{
	fprintf(stderr, "scrollkeep demo: %s: %s\n", step, why);
	return 1;
}

/* Poll sql (one boolean) until it answers true, for up to d->wait_s seconds. */
static bool wait_for(struct demo *d, const char *sql, const char *param)
{
	const char *params[] = {param};
	for (int i = 0; i < d->wait_s * 5; i++) {
		struct sk_err err = {0};
		PGresult *res = db_query(d->db, sql, param ? 1 : 0, params, &err);
		bool done = res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (done)
			return true;
		usleep(200 * 1000);
	}
	return false;
}

static char *text_of(struct demo *d, const char *sql, const char *param)
{
	const char *params[] = {param};
	struct sk_err err = {0};
	PGresult *res = db_query(d->db, sql, param ? 1 : 0, params, &err);
	char *out = res && PQntuples(res) == 1 ? strdup(PQgetvalue(res, 0, 0)) : NULL;
	PQclear(res);
	return out;
}

/* ---- the steps ---- */

static int step_catalog(struct demo *d)
{
	/* Beside the lab's catalog: lab/demo-shop.json. */
	char dir[PATH_MAX], path[PATH_MAX + 32];
	snprintf(dir, sizeof(dir), "%s", lab_catalog_path());
	snprintf(path, sizeof(path), "%s/demo-shop.json", dirname(dir));
	json_error_t jerr;
	json_t *catalog = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	struct shop_report report;
	struct sk_err err = {0};
	int rc = catalog && db_exec(d->db, "BEGIN", 0, NULL, &err) == 0 &&
	                         shop_import(d->db, catalog, &report, &err) == 0 &&
	                         db_commit(d->db, &err) == 0
	                 ? 0
	                 : -1;
	json_decref(catalog);
	if (rc < 0) {
		db_rollback(d->db);
		return fail("catalog", catalog ? err.detail : jerr.text);
	}
	printf("1. The demo catalog (%s): %d products, %d prices, %d purchase links created\n",
	       path, report.products.created, report.prices.created, report.links.created);
	print_trail(d);
	return 0;
}

static int step_person(struct demo *d)
{
	char *id = text_of(d, "SELECT scrollkeep.demo_person()", NULL);
	if (!id)
		return fail("person", "cannot create the synthetic person");
	snprintf(d->user, sizeof(d->user), "%s", id);
	free(id);
	time_t now = time(NULL);
	json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "sub", d->user, "role",
	                           "authenticated", "aud", "authenticated", "iat", (json_int_t)now,
	                           "exp", (json_int_t)now + 3600);
	const char *secret = d->cfg->jwt_secret;
	d->token = claims && secret ? jwt_sign_hs256(claims, secret, strlen(secret)) : NULL;
	json_decref(claims);
	if (!d->token)
		return fail("person", "SUPABASE_JWT_SECRET is not set");
	printf("2. A synthetic person %s, signed in with a token of their own\n", d->user);
	print_trail(d);
	return 0;
}

static int step_consent(struct demo *d)
{
	static const char *const purposes[] = {"email_delivery", "passport_sync", "public_share"};
	printf("3. Consent: POST /v1/consents for each purpose the purchase needs\n");
	for (size_t i = 0; i < 3; i++) {
		json_t *body = json_pack(
		        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "purpose", purposes[i], "action",
		        "granted", "notice_version", "demo-1", "notice_sha256",
		        "d2b1a8c5e0f34c7aa6e9b1d0c3f5a7e9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2",
		        "language", "en", "jurisdiction", "DE", "method", "web_form");
		long status;
		json_t *out = api(d, "POST", "/v1/consents", body, &status);
		json_decref(body);
		if (status != 201) {
			json_decref(out);
			return fail("consent", "the server refused a consent");
		}
		printf("   %s granted, receipt %s\n", purposes[i], json_str(out, "receipt_id"));
		json_decref(out);
	}
	print_trail(d);
	return 0;
}

static int step_reading(struct demo *d, char reading[37])
{
	json_t *body = json_pack(
	        "{s:s, s:s, s:[{s:s, s:s, s:b}, {s:s, s:s, s:b}], s:s, s:s}", "question",
	        "Demo: will the garden I planted bloom again in spring?", "answer",
	        "The Star and the Empress: what you tend in patience opens in its season.",
	        "spread", "card", "The Star", "position", "present", "reversed", 0, "card",
	        "The Empress", "position", "near future", "reversed", 0, "public_title", "The Star",
	        "public_line", "Hope returns to what is tended.");
	long status;
	json_t *out = api(d, "POST", "/v1/readings", body, &status);
	json_decref(body);
	if (status != 201) {
		json_decref(out);
		return fail("reading", "the server refused the reading");
	}
	snprintf(reading, 37, "%s", json_str(out, "id"));
	printf("4. A sealed reading %s (sha256 %.16s…), passport stamped: %s\n", reading,
	       json_str(out, "seal_sha256"),
	       json_is_true(json_object_get(out, "passport_stamped")) ? "yes" : "no");
	json_decref(out);
	print_trail(d);
	return 0;
}

/* The Checkout Session Stripe would have made, recorded as POST /v1/checkout records it. */
static int record_session(struct demo *d, const char *reading, const char *session)
{
	const char *params[] = {session, d->user, reading};
	struct sk_err err = {0};
	return db_exec(
	        d->db,
	        "INSERT INTO public.checkout_sessions (stripe_checkout_session_id, user_id,"
	        "  purchase_link_id, reading_id, url, amount_total, currency, livemode,"
	        "  idempotency_key, expires_at)"
	        " SELECT $1, $2::uuid, l.id, $3::uuid, 'https://checkout.stripe.test/' || $1,"
	        "        p.unit_amount, p.currency, p.livemode, 'checkout:demo:' || $1,"
	        "        now() + interval '1 day'"
	        "   FROM public.purchase_links l JOIN public.prices p ON p.id = l.price_id"
	        "  WHERE l.slug = 'demo-council'",
	        3, params, &err);
}

/* t=…,v1=HMAC-SHA256(secret, "t.payload"), as Stripe signs. */
static void stripe_signature(const char *secret, const char *payload, char *out, size_t len)
{
	char t[24];
	snprintf(t, sizeof(t), "%lld", (long long)time(NULL));
	size_t n = strlen(t) + 1 + strlen(payload);
	char *signed_text = malloc(n + 1);
	uint8_t mac[SHA256_LEN];
	char hex[SHA256_HEX_LEN + 1] = "";
	if (signed_text) {
		snprintf(signed_text, n + 1, "%s.%s", t, payload);
		if (crypto_hmac_sha256(secret, strlen(secret), signed_text, n, mac) == 0)
			crypto_hex(mac, sizeof(mac), hex);
	}
	free(signed_text);
	snprintf(out, len, "Stripe-Signature: t=%s,v1=%s", t, hex);
}

static int step_purchase(struct demo *d, const char *reading)
{
	const char *secrets = d->cfg->stripe_webhook_secret;
	if (!secrets || !*secrets)
		return fail("purchase",
		            "STRIPE_WEBHOOK_SECRET is not set (make run writes one into "
		            ".var/env)");
	char secret[256];
	snprintf(secret, sizeof(secret), "%.*s", (int)strcspn(secrets, ","), secrets);
	char token[17], session[40], intent[40], event_id[40];
	if (crypto_token(12, token, sizeof(token)) < 0)
		return fail("purchase", "no randomness");
	for (char *c = token; *c; c++)
		if (*c == '-')
			*c = 'x';
	snprintf(session, sizeof(session), "cs_demo_%s", token);
	snprintf(intent, sizeof(intent), "pi_demo_%s", token);
	snprintf(event_id, sizeof(event_id), "evt_demo_%s", token);
	if (record_session(d, reading, session) < 0)
		return fail("purchase",
		            "cannot record the Checkout Session (is the demo catalog there?)");
	json_t *event = json_pack(
	        "{s:s, s:s, s:s, s:I, s:b, s:s, s:{s:{s:s, s:s, s:i, s:i, s:s, s:s, s:b, s:s, s:s,"
	        " s:s, s:s, s:{s:s}}}}",
	        "id", event_id, "object", "event", "type", "checkout.session.completed", "created",
	        (json_int_t)time(NULL), "livemode", 0, "api_version", "2024-06-20", "data",
	        "object", "id", session, "object", "checkout.session", "amount_total", 900,
	        "amount_subtotal", 900, "currency", "eur", "client_reference_id", d->user,
	        "livemode", 0, "mode", "payment", "payment_intent", intent, "payment_status",
	        "paid", "status", "complete", "metadata", "purchase_link", "demo-council");
	char *payload = event ? json_dumps(event, JSON_COMPACT) : NULL;
	json_decref(event);
	if (!payload)
		return fail("purchase", "out of memory");
	char header[200];
	stripe_signature(secret, payload, header, sizeof(header));
	long status;
	json_decref(call_raw(d, "POST", "/v1/stripe/webhook", NULL, payload, header, &status));
	free(payload);
	if (status != 200)
		return fail("purchase", "the webhook refused the signed event");
	printf("5. A purchase: Checkout Session %s paid; Stripe's signed checkout.session.completed\n"
	       "   %s answered 200 by POST /v1/stripe/webhook, stored before the answer\n",
	       session, event_id);
	print_trail(d);
	return 0;
}

static int step_jobs(struct demo *d)
{
	printf("6. The worker processes the event, grants, renders and delivers\n");
	bool done = wait_for(
	        d,
	        "SELECT count(*) >= 2 AND bool_and(status = 'succeeded') FROM public.delivery_jobs"
	        " WHERE user_id = $1::uuid AND kind IN ('receipt_email_job', 'pdf_render_job')",
	        d->user);
	print_jobs(d);
	print_trail(d);
	if (!done)
		return fail("jobs",
		            "the deliveries did not finish: is `scrollkeep worker` running?");
	printf("   the receipt is in %s\n", d->cfg->smtp_url && *d->cfg->smtp_url
	                                            ? "the SMTP server's mailbox"
	                                            : "the local maildir (SCROLLKEEP_MAILDIR)");
	return 0;
}

static int step_export(struct demo *d)
{
	long status;
	json_t *req = call_raw(d, "POST", "/v1/privacy/export", NULL, "{}", NULL, &status);
	char id[37];
	snprintf(id, sizeof(id), "%s", status == 202 ? json_str(req, "id") : "");
	json_decref(req);
	if (!*id)
		return fail("export", "the server refused the export");
	bool done = wait_for(d,
	                     "SELECT status = 'ready' FROM public.data_exports"
	                     " WHERE id = $1::uuid",
	                     id);
	char *sha = text_of(d,
	                    "SELECT coalesce(sha256, '') || ' ' || coalesce(bytes::text, '')"
	                    " FROM public.data_exports WHERE id = $1::uuid",
	                    id);
	printf("7. An export %s: the archive (sha256 and bytes) %s\n", id, sha ? sha : "");
	free(sha);
	print_trail(d);
	return done ? 0 : fail("export", "the export did not finish: is the worker running?");
}

static int step_deletion(struct demo *d)
{
	long status;
	json_t *req = call_raw(d, "POST", "/v1/privacy/deletion", NULL, "{}", NULL, &status);
	char id[37];
	snprintf(id, sizeof(id), "%s", status == 202 ? json_str(req, "id") : "");
	json_decref(req);
	if (!*id)
		return fail("deletion", "the server refused the deletion");
	bool done = wait_for(
	        d, "SELECT status = 'completed' FROM public.deletion_requests WHERE id = $1::uuid",
	        id);
	char *proof = text_of(d,
	                      "SELECT format('%s hits for %s identifiers in every text and JSON"
	                      " column and %s files; report sha256 %s', report->>'hits',"
	                      " report->>'probes', report->>'files_scanned', report_sha256)"
	                      " FROM public.deletion_requests WHERE id = $1::uuid",
	                      id);
	printf("8. A deletion %s and its proof: %s\n", id, proof ? proof : "(none yet)");
	free(proof);
	print_trail(d);
	return done ? 0 : fail("deletion", "the deletion did not complete: is the worker running?");
}

static int run(int argc, char **argv, const struct config *cfg)
{
	struct demo d = {.cfg = cfg, .wait_s = 60};
	snprintf(d.server, sizeof(d.server), "http://%s:%u", cfg->listen_host, cfg->listen_port);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
			snprintf(d.server, sizeof(d.server), "%s", argv[++i]);
		else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
			long long s;
			if (num_parse(argv[++i], 1, 3600, &s) < 0)
				return command_usage(&cmd_demo);
			d.wait_s = (int)s;
		} else
			return command_usage(&cmd_demo);
	}
	long status;
	json_decref(api(&d, "GET", "/healthz", NULL, &status));
	if (status != 200)
		return fail(d.server, "no scrollkeep server answers there: start `make run` first");
	struct sk_err err = {0};
	struct db_options opt = {.app_name = "scrollkeep-demo", .statement_timeout_ms = 30000};
	d.db = db_connect_as(cfg->database_url, &opt, DB_ROLE_SERVICE, &err);
	if (!d.db)
		return command_fail(&cmd_demo, &err);
	char *seq = text_of(&d, "SELECT coalesce(max(chain_seq), 0) FROM public.admin_audit_events",
	                    NULL);
	d.audit_from = seq ? atoll(seq) : 0;
	free(seq);
	d.counts = table_counts(&d);
	printf("scrollkeep demo against %s\n\n", d.server);
	char reading[37] = "";
	int rc = step_catalog(&d);
	if (rc == 0)
		rc = step_person(&d);
	if (rc == 0)
		rc = step_consent(&d);
	if (rc == 0)
		rc = step_reading(&d, reading);
	if (rc == 0)
		rc = step_purchase(&d, reading);
	if (rc == 0)
		rc = step_jobs(&d);
	if (rc == 0)
		rc = step_export(&d);
	if (rc == 0)
		rc = step_deletion(&d);
	if (rc == 0)
		printf("\nThe trail stays: open %s/lab (the service role key is in .var/env) to see it "
		       "live,\nand `scrollkeep verify` to check it.\n",
		       d.server);
	json_decref(d.counts);
	free(d.token);
	PQfinish(d.db);
	return rc;
}

const struct command cmd_demo = {
        .name = "demo",
        .usage = "[--server URL] [--wait SECONDS]",
        .summary = "walk a synthetic person through the product on a running server and worker",
        .run = run,
};
