/*
 * artifacts.c — POST /v1/readings/{id}/artifacts and GET /v1/artifacts/{id}.
 */
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "core/crypto.h"
#include "domain/artifact.h"
#include "domain/store.h"

void api_artifacts_request(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, artifact_validate) == 0) {
		const char *reading_id = api_uuid_param(&c, 0);
		if (reading_id)
			api_finish(&c, 202,
			           artifact_request(c.conn, c.who.user_id, reading_id, c.body,
			                            &c.err));
	}
	api_end(&c);
}

void api_artifacts_get(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0) {
		const char *id = api_uuid_param(&c, 0);
		if (id)
			api_finish(&c, 200, artifact_get(c.conn, c.who.user_id, id, &c.err));
	}
	api_end(&c);
}

/* ---- GET /v1/artifacts/{id}/file ---- */

static const char *const sql_file =
        "SELECT kind, status, coalesce(storage_path, ''), coalesce(sha256, ''),"
        "       coalesce(content_type, ''), reading_id"
        "  FROM public.oracle_artifacts WHERE id = $1 AND user_id = $2";

/* Answer a file: its type, an ETag from its sha256, no caching by shared caches, and 304 when
 * the client has it already. Takes data (malloc()ed). */
/* The media type as a string that outlives the query result (the database allows only these). */
static const char *media_type(const char *stored)
{
	static const char *const known[] = {"application/pdf", "image/png",
	                                    "text/html; charset=utf-8"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(stored, known[i]) == 0)
			return known[i];
	return "application/octet-stream";
}

static void answer_file(struct api_call *c, char *data, size_t len, const char *stored_type,
                        const char *sha, const char *name)
{
	const char *content_type = media_type(stored_type);
	char etag[80], disposition[160];
	snprintf(etag, sizeof(etag), "\"%s\"", sha);
	const char *inm = http_header(c->req, "If-None-Match");
	if (db_commit(c->conn, &c->err) < 0) {
		free(data);
		http_respond_problem(c->res, c->req, &c->err);
		return;
	}
	if (inm && strstr(inm, sha)) {
		free(data);
		http_respond_raw(c->res, 304, content_type, NULL, 0);
	} else {
		http_respond_raw(c->res, 200, content_type, data, len);
	}
	snprintf(disposition, sizeof(disposition), "inline; filename=\"%s\"", name);
	http_add_header(c->res, "ETag", etag);
	http_add_header(c->res, "Cache-Control", "private, no-cache");
	http_add_header(c->res, "Content-Disposition", disposition);
}

/* The print view is the one kind rendered when it is opened (it is the owner's, and HTML). */
static void print_view(struct api_call *c, const char *id)
{
	struct artifact_doc doc;
	struct buf page = {0};
	const char *ext, *type;
	if (artifact_load_doc(c->conn, id, true, false, &doc, &c->err) < 0) {
		api_finish(c, 0, NULL);
		return;
	}
	int rc = artifact_render(&doc, &page, &ext, &type, &c->err);
	artifact_doc_free(&doc);
	if (rc < 0) {
		buf_free(&page);
		api_finish(c, 0, NULL);
		return;
	}
	char sha[SHA256_HEX_LEN + 1];
	crypto_sha256_hex(page.data, page.len, sha);
	size_t len = page.len;
	answer_file(c, buf_take(&page), len, type, sha, "reading.html");
}

void api_artifacts_file(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0) {
		const char *id = api_uuid_param(&c, 0);
		PGresult *row = NULL;
		const char *params[] = {id, c.who.user_id};
		if (!id) {
			/* answered */
		} else if (!(row = db_query(c.conn, sql_file, 2, params, &c.err))) {
			api_finish(&c, 0, NULL);
		} else if (PQntuples(row) != 1) {
			err_set(&c.err, PROBLEM_NOT_FOUND, "no such artifact");
			api_finish(&c, 0, NULL);
		} else if (strcmp(PQgetvalue(row, 0, 0), "print_view") == 0) {
			print_view(&c, id);
		} else if (!*PQgetvalue(row, 0, 2)) {
			err_set(&c.err, PROBLEM_CONFLICT, "the file is not ready yet (%s)",
			        PQgetvalue(row, 0, 1));
			api_finish(&c, 0, NULL);
		} else {
			size_t len;
			char sha[SHA256_HEX_LEN + 1], name[64];
			char *data = store_get(c.app->cfg->artifact_dir, PQgetvalue(row, 0, 2),
			                       &len, sha, &c.err);
			if (data && strcmp(sha, PQgetvalue(row, 0, 3)) != 0) {
				/* The file changed under its name: never serve it as the artifact.
				 */
				free(data);
				data = NULL;
				err_set(&c.err, PROBLEM_INTERNAL,
				        "the stored file does not match its hash");
			} else if (!data) {
				err_set(&c.err, PROBLEM_INTERNAL, "the stored file is missing");
			}
			if (!data) {
				api_finish(&c, 0, NULL);
			} else {
				snprintf(name, sizeof(name), "%s-%.8s.%s", PQgetvalue(row, 0, 0),
				         id, strrchr(PQgetvalue(row, 0, 2), '.') + 1);
				answer_file(&c, data, len, PQgetvalue(row, 0, 4), sha, name);
			}
		}
		PQclear(row);
	}
	api_end(&c);
}
