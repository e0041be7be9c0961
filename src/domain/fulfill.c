/*
 * fulfill.c — fulfillment (see fulfill.h).
 */
#include "fulfill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
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

/* A stamp for every purchase whose buyer keeps a passport (passport_sync granted now). */
static const char *const sql_stamps =
        "WITH t AS ("
        "  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS t(user_id, reading_id, payment_id)"
        "   WHERE scrollkeep.consent_state(t.user_id, 'passport_sync') = 'granted'"
        "), p AS ("
        "  INSERT INTO public.passports (user_id) SELECT DISTINCT t.user_id FROM t"
        "  ON CONFLICT (user_id) DO UPDATE SET updated_at = now() RETURNING user_id"
        ")"
        "INSERT INTO public.passport_stamps (user_id, reading_id, kind, label)"
        "SELECT t.user_id, t.reading_id, 'purchase', left(pr.name, 120)"
        "  FROM t JOIN p ON p.user_id = t.user_id"
        "  JOIN public.entitlements e ON e.payment_id = t.payment_id"
        "  JOIN public.products pr ON pr.id = e.product_id"
        " ON CONFLICT DO NOTHING";

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

/* Append value to a PostgreSQL array literal in b ({…}), NULL as NULL (uuids only: nothing to
 * quote). */
static void array_add(struct buf *b, const char *value)
{
	buf_printf(b, "%s%s", b->len > 1 ? "," : "", value ? value : "NULL");
}

/* The receipts and stamps due for a batch of verdicts. */
struct deliveries {
	json_t *receipts;                     /* enqueue_jobs' input */
	struct buf users, readings, payments; /* the stamps' columns */
	size_t stamps;
};

/* Whether verdict is a purchase whose entitlement first became active now, its buyer still
 * there (a pseudonymized buyer has nobody to deliver to). */
static bool deliveries_due(const json_t *verdict)
{
	return verdict && json_is_true(json_object_get(verdict, "newly_active")) &&
	       json_str(verdict, "user_id") && json_str(verdict, "payment_id");
}

static bool receipt_due(const json_t *verdict)
{
	return deliveries_due(verdict) &&
	       has_channel(json_object_get(verdict, "channels"), "receipt");
}

static void collect(struct deliveries *d, const json_t *verdict)
{
	if (!deliveries_due(verdict))
		return;
	const char *user = json_str(verdict, "user_id");
	const char *payment = json_str(verdict, "payment_id");
	if (receipt_due(verdict)) {
		char key[64];
		snprintf(key, sizeof(key), "receipt:%s", payment);
		json_array_append_new(d->receipts,
		                      json_pack("{s:s, s:{s:s, s:s}, s:s}", "kind",
		                                "receipt_email_job", "payload", "payment_id",
		                                payment, "user_id", user, "idempotency_key", key));
	}
	array_add(&d->users, user);
	array_add(&d->readings, json_str(verdict, "reading_id"));
	array_add(&d->payments, payment);
	d->stamps++;
}

/* The deliveries due for verdicts[0..n-1], in the caller's transaction: the receipts and the
 * stamps in one statement each, then the links' artifacts. wake: the receipts wake the workers
 * at commit (else the caller calls fulfill_wake once committed). */
static int deliver(PGconn *conn, json_t *const *verdicts, size_t n, bool wake, struct sk_err *err)
{
	struct deliveries d = {.receipts = json_array()};
	struct buf *cols[] = {&d.users, &d.readings, &d.payments};
	for (size_t c = 0; c < 3; c++)
		buf_puts(cols[c], "{");
	for (size_t i = 0; i < n; i++)
		if (verdicts[i])
			collect(&d, verdicts[i]);
	for (size_t c = 0; c < 3; c++)
		buf_puts(cols[c], "}");
	int rc = -1;
	bool failed = !d.receipts;
	for (size_t c = 0; c < 3; c++)
		failed = failed || buf_failed(cols[c]);
	if (failed) {
		err_set(err, PROBLEM_INTERNAL, "out of memory");
		goto out;
	}
	if (json_array_size(d.receipts) > 0) {
		char *jobs = json_dumps(d.receipts, JSON_COMPACT);
		const char *params[] = {jobs, wake ? "true" : "false"};
		int erc =
		        jobs ? db_exec(conn,
		                       "SELECT count(*) FROM scrollkeep.enqueue_jobs($1::jsonb, $2::boolean)",
		                       2, params, err)
		             : err_set(err, PROBLEM_INTERNAL, "out of memory");
		free(jobs);
		if (erc < 0)
			goto out;
	}
	if (d.stamps > 0) {
		const char *params[] = {d.users.data, d.readings.data, d.payments.data};
		if (db_exec(conn, sql_stamps, 3, params, err) < 0)
			goto out;
	}
	bool artifacts = false;
	for (size_t i = 0; i < n; i++) {
		const json_t *v = verdicts[i];
		const char *reading = json_str(v, "reading_id");
		if (!deliveries_due(v) || !reading)
			continue;
		artifacts = true;
		if (request_artifacts(conn, json_str(v, "user_id"), reading,
		                      json_object_get(v, "channels"), err) < 0)
			goto out;
	}
	/* artifact_request acts as the person; the rest of the transaction is the service's. */
	rc = artifacts ? db_set_role(conn, DB_ROLE_SERVICE, err) : 0;
out:
	json_decref(d.receipts);
	for (size_t c = 0; c < 3; c++)
		buf_free(cols[c]);
	return rc;
}

static json_t *parse_verdict(const char *text, struct sk_err *err)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);
	if (!v)
		err_set(err, PROBLEM_INTERNAL, "the ledger's answer is not JSON");
	return v;
}

static void free_verdicts(json_t **verdicts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(verdicts[i]);
		verdicts[i] = NULL;
	}
}

int fulfill_events(PGconn *conn, const long long *row_ids, size_t n, bool force, json_t **verdicts,
                   struct sk_err *err)
{
	for (size_t i = 0; i < n; i++)
		verdicts[i] = NULL;
	struct buf ids = {0};
	buf_puts(&ids, "{");
	for (size_t i = 0; i < n; i++)
		buf_printf(&ids, "%s%lld", i ? "," : "", row_ids[i]);
	buf_puts(&ids, "}");
	if (buf_failed(&ids)) {
		buf_free(&ids);
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	}
	const char *params[] = {ids.data, force ? "true" : "false"};
	PGresult *res = db_query(
	        conn,
	        "SELECT verdict FROM scrollkeep.process_stripe_events($1::bigint[], $2::boolean)",
	        2, params, err);
	buf_free(&ids);
	if (!res)
		return -1;
	int rc = 0;
	if ((size_t)PQntuples(res) != n)
		rc = err_set(err, PROBLEM_INTERNAL, "the ledger did not answer for every event");
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!(verdicts[i] = parse_verdict(PQgetvalue(res, (int)i, 0), err)))
			rc = -1;
	PQclear(res);
	if (rc == 0)
		rc = deliver(conn, verdicts, n, false, err);
	if (rc < 0)
		free_verdicts(verdicts, n);
	return rc;
}

void fulfill_wake(PGconn *conn, json_t *const *verdicts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (receipt_due(verdicts[i])) {
			struct sk_err ignored; /* the jobs are committed: polling finds them */
			queue_wake(conn, "receipt_email_job", &ignored);
			return;
		}
}

json_t *fulfill_event(PGconn *conn, long long row_id, bool force, struct sk_err *err)
{
	json_t *verdict;
	return fulfill_events(conn, &row_id, 1, force, &verdict, err) == 0 ? verdict : NULL;
}

json_t *fulfill_session(PGconn *conn, const json_t *session, struct sk_err *err)
{
	const char *id = json_str(session, "id");
	char *text = json_dumps(session, JSON_COMPACT);
	char cause[300];
	snprintf(cause, sizeof(cause), "confirm:%s", id ? id : "");
	if (!text) {
		err_set(err, PROBLEM_INTERNAL, "out of memory");
		return NULL;
	}
	const char *params[] = {text, cause};
	PGresult *res =
	        db_query(conn, "SELECT scrollkeep.apply_checkout_session($1::jsonb, 'confirm', $2)",
	                 2, params, err);
	free(text);
	if (!res)
		return NULL;
	json_t *verdict = parse_verdict(PQgetvalue(res, 0, 0), err);
	PQclear(res);
	if (verdict && deliver(conn, &verdict, 1, true, err) < 0) {
		json_decref(verdict);
		return NULL;
	}
	return verdict;
}
