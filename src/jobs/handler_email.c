/*
 * handler_email.c — the owner's e-mails: artifact_ready_email_job, echo_delivery_job and
 * recovery_email_job. Each checks email_delivery at send time (withdrawn: the job is
 * cancelled, nothing is sent) and links to the private view; none carries any of the
 * reading's text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "domain/email.h"
#include "jobs/handler.h"
#include "jobs/handlers_common.h"

static const char *kind_label(const char *kind)
{
	if (strcmp(kind, "private_pdf") == 0)
		return "private PDF";
	if (strcmp(kind, "share_card") == 0)
		return "share card";
	if (strcmp(kind, "print_view") == 0)
		return "print view";
	if (strcmp(kind, "gift") == 0)
		return "gift";
	return "PDF";
}

/* The person behind the job, and their email_delivery consent. false: r is already set. */
static bool may_email(struct job_env *env, const struct queue_job *job, char user[37],
                      struct queue_result *r)
{
	if (!job_payload_uuid(job, "user_id", user)) {
		job_fail(r, JOB_PERMANENT, "the payload names no person");
		return false;
	}
	if (!env->conn) {
		job_fail(r, JOB_TRANSIENT, "the database is unavailable");
		return false;
	}
	if (!job_consent_granted(env, user, "email_delivery")) {
		job_fail(r, JOB_CANCELLED, "email_delivery is not granted");
		return false;
	}
	return true;
}

void handle_artifact_ready_email(struct job_env *env, const struct queue_job *job,
                                 struct queue_result *r)
{
	char user[37], artifact[37];
	if (!may_email(env, job, user, r))
		return;
	if (!job_payload_uuid(job, "artifact_id", artifact))
		return job_fail(r, JOB_PERMANENT, "the payload names no artifact");
	const char *params[] = {artifact};
	struct sk_err err;
	PGresult *res = db_query(
	        env->conn, "SELECT kind, reading_id FROM public.oracle_artifacts WHERE id = $1", 1,
	        params, &err);
	if (!res)
		return job_fail(r, JOB_TRANSIENT, "cannot read the artifact");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return job_fail(r, JOB_PERMANENT, "the artifact is gone");
	}
	char path[160], link[1200], label[32];
	snprintf(path, sizeof(path), "/readings/%s/artifacts/%s", PQgetvalue(res, 0, 1), artifact);
	snprintf(label, sizeof(label), "%s", kind_label(PQgetvalue(res, 0, 0)));
	PQclear(res);
	site_link(env->cfg, link, sizeof(link), path);
	struct email_value values[] = {{"kind_label", label}, {"link", link}};
	struct email_message msg = {"artifact_ready", "person", user, user, values, 2};
	email_deliver(env->conn, env->cfg, job, &msg, r);
}

void handle_echo(struct job_env *env, const struct queue_job *job, struct queue_result *r)
{
	char user[37], echo[37];
	if (!job_payload_uuid(job, "echo_id", echo))
		return job_fail(r, JOB_PERMANENT, "the payload names no echo");
	if (!may_email(env, job, user, r))
		return;
	const char *params[] = {echo};
	struct sk_err err;
	PGresult *res =
	        db_query(env->conn, "SELECT reading_id, status FROM public.echoes WHERE id = $1", 1,
	                 params, &err);
	if (!res)
		return job_fail(r, JOB_TRANSIENT, "cannot read the echo");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return job_fail(r, JOB_PERMANENT, "the echo is gone");
	}
	bool cancelled = strcmp(PQgetvalue(res, 0, 1), "cancelled") == 0;
	char path[160], link[1200];
	snprintf(path, sizeof(path), "/readings/%s/echoes/%s", PQgetvalue(res, 0, 0), echo);
	PQclear(res);
	if (cancelled)
		return job_fail(r, JOB_CANCELLED, "the echo was cancelled");
	site_link(env->cfg, link, sizeof(link), path);
	struct email_value values[] = {{"link", link}};
	struct email_message msg = {"echo", "person", user, user, values, 1};
	email_deliver(env->conn, env->cfg, job, &msg, r);
	if (r->outcome == JOB_SUCCEEDED &&
	    db_exec(env->conn,
	            "UPDATE public.echoes SET status = 'delivered', delivered_at = coalesce(delivered_at, now())"
	            " WHERE id = $1 AND status <> 'cancelled'",
	            1, params, &err) < 0)
		snprintf(r->error, sizeof(r->error), "sent; the echo's status was not updated");
}

void handle_recovery_email(struct job_env *env, const struct queue_job *job, struct queue_result *r)
{
	char user[37], link[1200];
	if (!may_email(env, job, user, r))
		return;
	site_link(env->cfg, link, sizeof(link), "/account/recover");
	struct email_value values[] = {{"link", link}};
	struct email_message msg = {"access_recovery", "person", user, user, values, 1};
	email_deliver(env->conn, env->cfg, job, &msg, r);
}

/* "9.00 EUR": minor units of a two-decimal currency (zero-decimal ones: JPY, KRW, … as is). */
static void format_amount(const char *minor, const char *currency, char *out, size_t len)
{
	static const char *const zero_decimal[] = {"bif", "clp", "djf", "gnf", "jpy", "kmf",
	                                           "krw", "mga", "pyg", "rwf", "ugx", "vnd",
	                                           "vuv", "xaf", "xof", "xpf"};
	char upper[4] = {0};
	for (int i = 0; i < 3 && currency[i]; i++)
		upper[i] = (char)(currency[i] - 32 * (currency[i] >= 'a' && currency[i] <= 'z'));
	for (size_t i = 0; i < sizeof(zero_decimal) / sizeof(zero_decimal[0]); i++)
		if (strcmp(currency, zero_decimal[i]) == 0) {
			snprintf(out, len, "%s %s", minor, upper);
			return;
		}
	long long v = atoll(minor);
	snprintf(out, len, "%lld.%02lld %s", v / 100, v % 100, upper);
}

void handle_receipt_email(struct job_env *env, const struct queue_job *job, struct queue_result *r)
{
	char user[37], payment[37];
	if (!job_payload_uuid(job, "payment_id", payment))
		return job_fail(r, JOB_PERMANENT, "the payload names no payment");
	if (!may_email(env, job, user, r))
		return;
	const char *params[] = {payment};
	struct sk_err err;
	PGresult *res =
	        db_query(env->conn,
	                 "SELECT pr.name, p.amount::text, p.currency FROM public.payments p"
	                 " JOIN public.entitlements e ON e.payment_id = p.id"
	                 " JOIN public.products pr ON pr.id = e.product_id WHERE p.id = $1 LIMIT 1",
	                 1, params, &err);
	if (!res)
		return job_fail(r, JOB_TRANSIENT, "cannot read the payment");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return job_fail(r, JOB_PERMANENT, "the payment is gone");
	}
	char product[200], amount[48], path[80], link[1200];
	snprintf(product, sizeof(product), "%s", PQgetvalue(res, 0, 0));
	format_amount(PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), amount, sizeof(amount));
	PQclear(res);
	snprintf(path, sizeof(path), "/account/purchases/%s", payment);
	site_link(env->cfg, link, sizeof(link), path);
	struct email_value values[] = {{"product", product}, {"amount", amount}, {"link", link}};
	struct email_message msg = {"receipt", "person", user, user, values, 3};
	email_deliver(env->conn, env->cfg, job, &msg, r);
}
