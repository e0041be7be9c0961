/*
 * privacy.c — the signed-in person's data-subject requests: POST /v1/privacy/export, POST
 * /v1/privacy/deletion, GET /v1/privacy/requests/{id}, POST /v1/privacy/requests/{id}/cancel
 * and GET /v1/privacy/requests/{id}/archive (the export, while its link lasts). Every query
 * runs as authenticated: the person is auth.uid(), and RLS shows them their own requests only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "core/db.h"
#include "core/http.h"
#include "domain/privacy.h"
#include "domain/store.h"

static json_t *request_json(PGconn *conn, const char *sql, int n, const char *const *params,
                            struct sk_err *err)
{
	return db_query_json(conn, sql, n, params, err);
}

void api_privacy_export(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, privacy_request_validate) == 0)
		api_finish(&c, 202,
		           request_json(c.conn,
		                        "SELECT jsonb_build_object('id', r.id, 'kind', 'export',"
		                        " 'status', r.status, 'due_at', r.due_at)"
		                        "  FROM scrollkeep.my_export_request() r",
		                        0, NULL, &c.err));
	api_end(&c);
}

void api_privacy_deletion(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, privacy_request_validate) == 0) {
		char grace[32];
		snprintf(grace, sizeof(grace), "%d hours", c.app->cfg->deletion_grace_hours);
		const char *params[] = {grace};
		api_finish(&c, 202,
		           request_json(c.conn,
		                        "SELECT jsonb_build_object('id', r.id, 'kind', 'deletion',"
		                        " 'status', r.status, 'due_at', r.due_at, 'grace_until',"
		                        " r.grace_until, 'scheduled_for', r.scheduled_for)"
		                        "  FROM scrollkeep.my_deletion_request($1::interval) r",
		                        1, params, &c.err));
	}
	api_end(&c);
}

/* The person's request id, of either kind, as the page shows it; NULL with err when RLS
 * hides it or it does not exist. */
static const char *const sql_request =
        "SELECT coalesce("
        " (SELECT jsonb_build_object('id', d.id, 'kind', 'deletion', 'status', d.status,"
        "   'due_at', coalesce(d.extended_due_at, d.due_at), 'extended', d.extended_due_at IS NOT NULL,"
        "   'extension_reason', d.extension_reason, 'grace_until', d.grace_until,"
        "   'step', d.step, 'completed_at', d.completed_at, 'report_sha256', d.report_sha256)"
        "    FROM public.deletion_requests d WHERE d.id = $1::uuid),"
        " (SELECT jsonb_build_object('id', e.id, 'kind', 'export', 'status',"
        "   CASE WHEN e.status = 'ready' AND e.expires_at <= now() THEN 'expired' ELSE e.status END,"
        "   'due_at', e.due_at, 'ready_at', e.ready_at, 'expires_at', e.expires_at,"
        "   'bytes', e.bytes, 'sha256', e.sha256,"
        "   'archive_url', CASE WHEN e.status = 'ready' AND e.expires_at > now()"
        "     THEN '/v1/privacy/requests/' || e.id || '/archive' END)"
        "    FROM public.data_exports e WHERE e.id = $1::uuid), '{}'::jsonb)";

void api_privacy_request(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0) {
		const char *id = api_uuid_param(&c, 0);
		if (id) {
			const char *params[] = {id};
			json_t *out = request_json(c.conn, sql_request, 1, params, &c.err);
			if (out && json_object_size(out) == 0) {
				json_decref(out);
				out = NULL;
				err_set(&c.err, PROBLEM_NOT_FOUND, "no such request");
			}
			api_finish(&c, 200, out);
		}
	}
	api_end(&c);
}

void api_privacy_cancel(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0) {
		const char *id = api_uuid_param(&c, 0);
		if (id) {
			const char *params[] = {id};
			api_finish(&c, 200,
			           request_json(c.conn,
			                        "SELECT jsonb_build_object('id', r.id, 'kind',"
			                        " 'deletion', 'status', r.status)"
			                        "  FROM scrollkeep.my_deletion_cancel($1::uuid) r",
			                        1, params, &c.err));
		}
	}
	api_end(&c);
}

void api_privacy_archive(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0) {
		const char *id = api_uuid_param(&c, 0);
		const char *params[] = {id};
		PGresult *row = NULL;
		if (!id) {
			/* answered */
		} else if (!(row = db_query(c.conn,
		                            "SELECT storage_path, sha256 FROM public.data_exports"
		                            " WHERE id = $1::uuid AND status = 'ready'"
		                            "   AND expires_at > now()",
		                            1, params, &c.err))) {
			api_finish(&c, 0, NULL);
		} else if (PQntuples(row) != 1) {
			err_set(&c.err, PROBLEM_NOT_FOUND, "no archive ready for this request");
			api_finish(&c, 0, NULL);
		} else {
			size_t len;
			char sha[SHA256_HEX_LEN + 1];
			char *data = store_get(c.app->cfg->artifact_dir, PQgetvalue(row, 0, 0),
			                       &len, sha, &c.err);
			if (data && strcmp(sha, PQgetvalue(row, 0, 1)) != 0) {
				free(data);
				data = NULL;
				err_set(&c.err, PROBLEM_INTERNAL,
				        "the archive does not match its hash");
			}
			if (!data || db_commit(c.conn, &c.err) < 0) {
				free(data);
				if (c.err.problem == PROBLEM_NONE ||
				    c.err.problem == PROBLEM_NOT_FOUND)
					err_set(&c.err, PROBLEM_INTERNAL, "the archive is missing");
				db_rollback(c.conn);
				http_respond_problem(c.res, c.req, &c.err);
			} else {
				char disposition[96];
				snprintf(disposition, sizeof(disposition),
				         "attachment; filename=\"scrollkeep-export-%.8s.json\"",
				         id);
				http_respond_raw(c.res, 200, "application/json", data, len);
				http_add_header(c.res, "Cache-Control", "private, no-store");
				http_add_header(c.res, "Content-Disposition", disposition);
			}
		}
		PQclear(row);
	}
	api_end(&c);
}
