/*
 * handler_render.c — pdf_render_job, private_pdf_render_job and share_card_render_job.
 *
 * Render the artifact, write the file into the store, and mark the row ready with the file's
 * path, sha256 and size in one transaction (which also enqueues the owner's "ready" e-mail
 * when email_delivery is granted). Idempotent: a ready artifact is left as it is, and the
 * same content lands under the same name. A share card whose token died (public_share was
 * withdrawn) is not rendered: the job is cancelled.
 */
#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "domain/artifact.h"
#include "domain/store.h"
#include "jobs/handler.h"
#include "jobs/handlers_common.h"

static const char *const sql_ready =
        "UPDATE public.oracle_artifacts SET status = 'ready', storage_path = $2, sha256 = $3,"
        " bytes = $4, content_type = $5, ready_at = now() WHERE id = $1";

/* The owner's "ready" e-mail, only while email_delivery stands (checked again at send). */
static const char *const sql_notify =
        "SELECT scrollkeep.enqueue_job('artifact_ready_email_job',"
        " jsonb_build_object('artifact_id', $1::text, 'user_id', $2::text), 'artifact-ready:' || $1)"
        " WHERE scrollkeep.consent_state($2::uuid, 'email_delivery') = 'granted'";

void handle_render(struct job_env *env, const struct queue_job *job, struct queue_result *r)
{
	char id[37];
	struct sk_err err;
	struct artifact_doc doc;
	bool private_kind = strcmp(job->kind, "private_pdf_render_job") == 0;
	if (!job_open_artifact(env, job, private_kind, id, &doc, r))
		return;
	if (strcmp(doc.status, "ready") == 0 || strcmp(doc.status, "delivered") == 0) {
		db_rollback(env->conn);
		artifact_doc_free(&doc);
		r->outcome = JOB_SUCCEEDED;
		snprintf(r->provider_ref, sizeof(r->provider_ref), "already ready");
		return;
	}
	if (strcmp(doc.status, "revoked") == 0) {
		db_rollback(env->conn);
		artifact_doc_free(&doc);
		return job_fail(r, JOB_CANCELLED, "the share was revoked (public_share withdrawn)");
	}
	struct buf file = {0};
	const char *ext, *content_type;
	struct store_file stored = {0};
	int rc = artifact_render(&doc, &file, &ext, &content_type, &err);
	if (rc == 0)
		rc = store_put(env->cfg->artifact_dir, file.data, file.len, ext, &stored, &err);
	buf_free(&file);
	if (rc < 0) {
		db_rollback(env->conn);
		artifact_doc_free(&doc);
		return job_fail(r, JOB_TRANSIENT, err.detail); /* a full disk, most often */
	}
	char bytes[24];
	snprintf(bytes, sizeof(bytes), "%zu", stored.bytes);
	const char *ready[] = {id, stored.path, stored.sha256, bytes, content_type};
	const char *notify[] = {id, doc.user_id};
	if (db_exec(env->conn, sql_ready, 5, ready, &err) < 0 ||
	    db_exec(env->conn, sql_notify, 2, notify, &err) < 0 || db_commit(env->conn, &err) < 0) {
		db_rollback(env->conn);
		artifact_doc_free(&doc);
		return job_fail(r, JOB_TRANSIENT, "cannot record the file");
	}
	artifact_doc_free(&doc);
	r->outcome = JOB_SUCCEEDED;
	snprintf(r->provider_ref, sizeof(r->provider_ref), "%s", stored.path);
}
