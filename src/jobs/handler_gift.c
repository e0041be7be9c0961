/*
 * handler_gift.c — gift_delivery_job: render the gift (the reading's public fields under "A
 * gift for you"; nothing of the recipient is drawn into the file, so deleting the recipient
 * leaves nothing behind in it), give it its unguessable gift token, and send the recipient a
 * link to it. Needs the buyer's gift_delivery at send time; withdrawn, the job is cancelled.
 */
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "core/db.h"
#include "domain/artifact.h"
#include "domain/email.h"
#include "domain/store.h"
#include "jobs/handler.h"
#include "jobs/handlers_common.h"

static const char *const sql_ready =
        "UPDATE public.oracle_artifacts SET status = 'ready', storage_path = $2, sha256 = $3,"
        " bytes = $4, content_type = $5, ready_at = now(), gift_token = coalesce(gift_token, $6)"
        " WHERE id = $1 RETURNING gift_token";

/* Render and store the gift unless it is ready; its token into token. */
static bool make_ready(struct job_env *env, struct artifact_doc *doc, char token[48],
                       struct queue_result *r)
{
	snprintf(token, 48, "%s", doc->gift_token);
	if (strcmp(doc->status, "ready") == 0 || strcmp(doc->status, "delivered") == 0)
		return true;
	struct buf file = {0};
	const char *ext, *content_type;
	struct store_file stored = {0};
	struct sk_err err;
	char fresh[48];
	int rc = artifact_render(doc, &file, &ext, &content_type, &err);
	if (rc == 0)
		rc = store_put(env->cfg->artifact_dir, file.data, file.len, ext, &stored, &err);
	buf_free(&file);
	if (rc < 0 || crypto_token(32, fresh, sizeof(fresh)) < 0) {
		job_fail(r, JOB_TRANSIENT, rc < 0 ? err.detail : "no randomness");
		return false;
	}
	char bytes[24];
	snprintf(bytes, sizeof(bytes), "%zu", stored.bytes);
	const char *params[] = {doc->id, stored.path, stored.sha256, bytes, content_type, fresh};
	PGresult *res = db_query(env->conn, sql_ready, 6, params, &err);
	if (!res) {
		job_fail(r, JOB_TRANSIENT, "cannot record the gift");
		return false;
	}
	snprintf(token, 48, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

void handle_gift(struct job_env *env, const struct queue_job *job, struct queue_result *r)
{
	char id[37];
	struct sk_err err;
	struct artifact_doc doc;
	if (!job_open_artifact(env, job, false, id, &doc, r))
		return;
	if (strcmp(doc.status, "delivered") == 0) {
		db_rollback(env->conn);
		artifact_doc_free(&doc);
		r->outcome = JOB_SUCCEEDED;
		snprintf(r->provider_ref, sizeof(r->provider_ref), "already delivered");
		return;
	}
	if (!job_consent_granted(env, doc.user_id, "gift_delivery")) {
		db_rollback(env->conn);
		artifact_doc_free(&doc);
		return job_fail(r, JOB_CANCELLED, "gift_delivery is not granted");
	}
	char token[48];
	bool ready = make_ready(env, &doc, token, r);
	if (!ready || db_commit(env->conn, &err) < 0) {
		db_rollback(env->conn);
		artifact_doc_free(&doc);
		if (ready)
			job_fail(r, JOB_TRANSIENT, "cannot record the gift");
		return;
	}

	/* The recipient's name and the buyer's message, read now, for the e-mail only. */
	const char *params[] = {id};
	PGresult *res = db_query(
	        env->conn,
	        "SELECT coalesce(name, ''), coalesce(message, '') FROM public.gift_recipients"
	        " WHERE artifact_id = $1",
	        1, params, &err);
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		artifact_doc_free(&doc);
		return job_fail(r, res ? JOB_PERMANENT : JOB_TRANSIENT,
		                "the gift's recipient is gone");
	}
	char path[80], link[1200];
	snprintf(path, sizeof(path), "/gift/%s", token);
	site_link(env->cfg, link, sizeof(link), path);
	struct email_value values[] = {
	        {"name", PQgetvalue(res, 0, 0)[0] ? PQgetvalue(res, 0, 0) : "there"},
	        {"message", PQgetvalue(res, 0, 1)},
	        {"link", link}};
	struct email_message msg = {"gift", "gift_recipient", id, doc.user_id, values, 3};
	email_deliver(env->conn, env->cfg, job, &msg, r);
	PQclear(res);
	if (r->outcome == JOB_SUCCEEDED &&
	    db_exec(env->conn,
	            "UPDATE public.oracle_artifacts SET status = 'delivered' WHERE id = $1", 1,
	            params, &err) < 0)
		snprintf(r->error, sizeof(r->error), "sent; the gift's status was not updated");
	artifact_doc_free(&doc);
}
