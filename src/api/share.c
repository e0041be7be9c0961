/*
 * share.c — the two public links, for anyone who holds the token:
 *   GET /share/{token}  a share card: an HTML page with Open Graph tags (the default), its
 *                       safe JSON (Accept: application/json or ?format=json) or its PNG
 *                       (Accept: image/png or ?format=png). Safe fields only.
 *   GET /gift/{token}   a gift's PDF, for its recipient.
 * A token is 43 random base64url characters (256 bits); a share token exists only while the
 * owner's public_share stands. An unknown or dead token is a plain 404.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "core/buf.h"
#include "core/crypto.h"
#include "core/json.h"
#include "domain/store.h"

static bool token_ok(const char *t)
{
	if (strlen(t) != 43)
		return false;
	for (const char *p = t; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

static void not_found(struct http_request *req, struct http_response *res)
{
	struct sk_err err;
	err_set(&err, PROBLEM_NOT_FOUND, "no such link");
	http_respond_problem(res, req, &err);
}

/* Look a token up (as service_role: these routes have no signed-in person). */
static PGresult *lookup(struct http_request *req, struct http_response *res, const char *sql,
                        PGconn **conn)
{
	struct app *app = req->app;
	struct sk_err err = {0};
	const char *token = req->nparams ? req->params[0] : "";
	*conn = NULL;
	if (!token_ok(token)) {
		not_found(req, res);
		return NULL;
	}
	*conn = db_acquire(app->pool, 5000, &err);
	PGresult *row = NULL;
	const char *params[] = {token};
	if (*conn && db_begin_as(*conn, DB_ROLE_SERVICE, NULL, &err) == 0)
		row = db_query(*conn, sql, 1, params, &err);
	if (*conn)
		db_rollback(*conn);
	if (!row) {
		http_respond_problem(res, req, &err);
		return NULL;
	}
	if (PQntuples(row) != 1) {
		PQclear(row);
		not_found(req, res);
		return NULL;
	}
	return row;
}

static void serve_file(struct http_request *req, struct http_response *res, const char *path,
                       const char *want_sha, const char *type, const char *cache)
{
	struct app *app = req->app;
	struct sk_err err = {0};
	size_t len;
	char sha[SHA256_HEX_LEN + 1], etag[80];
	char *data = store_get(app->cfg->artifact_dir, path, &len, sha, &err);
	if (!data || strcmp(sha, want_sha) != 0) {
		free(data);
		err_set(&err, PROBLEM_INTERNAL, "the stored file is missing or damaged");
		http_respond_problem(res, req, &err);
		return;
	}
	snprintf(etag, sizeof(etag), "\"%s\"", sha);
	const char *inm = http_header(req, "If-None-Match");
	if (inm && strstr(inm, sha)) {
		free(data);
		http_respond_raw(res, 304, type, NULL, 0);
	} else {
		http_respond_raw(res, 200, type, data, len);
	}
	http_add_header(res, "ETag", etag);
	http_add_header(res, "Cache-Control", cache);
}

static const char *const sql_share =
        "SELECT public_fields::text, coalesce(storage_path, ''), coalesce(sha256, '')"
        "  FROM public.oracle_artifacts"
        " WHERE share_token = $1 AND kind = 'share_card' AND status IN ('requested', 'ready', 'delivered')";

/* Which representation the client wants: ?format= wins over Accept; HTML by default. */
static const char *wanted(struct http_request *req)
{
	const char *format = http_query(req, "format");
	if (format)
		return strcmp(format, "png") == 0 || strcmp(format, "json") == 0 ? format : "html";
	const char *accept = http_header(req, "Accept");
	if (accept && strncasecmp(accept, "image/png", 9) == 0)
		return "png";
	if (accept && strncasecmp(accept, "application/json", 16) == 0)
		return "json";
	return "html";
}

/* The safe JSON of a card, built from the allow-listed public fields only. */
static json_t *card_json(const json_t *fields, const char *image)
{
	json_t *cards = json_array();
	size_t i;
	const json_t *c;
	json_array_foreach(json_object_get(fields, "spread"), i, c)
	{
		json_array_append_new(cards,
		                      json_pack("{s:s?, s:s?, s:b}", "card", json_str(c, "card"),
		                                "position", json_str(c, "position"), "reversed",
		                                json_is_true(json_object_get(c, "reversed"))));
	}
	return json_pack("{s:s?, s:s?, s:s?, s:o, s:s}", "title", json_str(fields, "public_title"),
	                 "line", json_str(fields, "public_line"), "sealed_at",
	                 json_str(fields, "sealed_at"), "cards", cards, "image", image);
}

static void attr(struct buf *b, const char *text)
{
	char *e = g_markup_escape_text(text ? text : "", -1);
	buf_puts(b, e);
	g_free(e);
}

static char *card_html(const json_t *fields, const char *image)
{
	const char *title = json_str(fields, "public_title"),
	           *line = json_str(fields, "public_line");
	struct buf b = {0};
	buf_puts(&b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
	attr(&b, title);
	buf_puts(&b, "</title><meta property=\"og:type\" content=\"article\">"
	             "<meta property=\"og:title\" content=\"");
	attr(&b, title);
	buf_puts(&b, "\"><meta property=\"og:description\" content=\"");
	attr(&b, line);
	buf_puts(&b, "\"><meta property=\"og:image\" content=\"");
	attr(&b, image);
	buf_puts(&b,
	         "\"><meta property=\"og:image:width\" content=\"1200\">"
	         "<meta property=\"og:image:height\" content=\"630\">"
	         "<meta name=\"twitter:card\" content=\"summary_large_image\">"
	         "<meta name=\"viewport\" content=\"width=device-width\"></head>"
	         "<body style=\"margin:0;background:#1a1537;display:flex;justify-content:center\">"
	         "<img alt=\"");
	attr(&b, title);
	buf_puts(&b, "\" src=\"");
	attr(&b, image);
	buf_puts(&b, "\" style=\"max-width:100%\"></body></html>\n");
	return buf_take(&b);
}

void api_share(struct http_request *req, struct http_response *res)
{
	struct app *app = req->app;
	PGconn *conn;
	PGresult *row = lookup(req, res, sql_share, &conn);
	db_release(app->pool, conn);
	if (!row)
		return;
	const char *format = wanted(req);
	json_error_t jerr;
	json_t *fields = json_loads(PQgetvalue(row, 0, 0), 0, &jerr);
	char image[1400], site[1024];
	const char *base = app->cfg->site_url ? app->cfg->site_url : "";
	size_t n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	snprintf(site, sizeof(site), "%.*s", (int)n, base);
	snprintf(image, sizeof(image), "%s/share/%s?format=png", site, req->params[0]);
	if (strcmp(format, "png") == 0) {
		if (!*PQgetvalue(row, 0, 1))
			not_found(req, res); /* not rendered yet */
		else
			serve_file(req, res, PQgetvalue(row, 0, 1), PQgetvalue(row, 0, 2),
			           "image/png", "public, no-cache");
	} else if (strcmp(format, "json") == 0) {
		http_respond_json(res, 200, card_json(fields, image));
		http_add_header(res, "Cache-Control", "public, no-cache");
	} else {
		char *page = card_html(fields, image);
		if (page)
			http_respond_raw(res, 200, "text/html; charset=utf-8", page, strlen(page));
		http_add_header(res, "Cache-Control", "public, no-cache");
	}
	http_add_header(res, "Vary", "Accept");
	json_decref(fields);
	PQclear(row);
}

static const char *const sql_gift =
        "SELECT storage_path, sha256 FROM public.oracle_artifacts"
        " WHERE gift_token = $1 AND kind = 'gift' AND status IN ('ready', 'delivered')";

void api_gift(struct http_request *req, struct http_response *res)
{
	struct app *app = req->app;
	PGconn *conn;
	PGresult *row = lookup(req, res, sql_gift, &conn);
	db_release(app->pool, conn);
	if (!row)
		return;
	serve_file(req, res, PQgetvalue(row, 0, 0), PQgetvalue(row, 0, 1), "application/pdf",
	           "private, no-store");
	http_add_header(res, "Content-Disposition", "inline; filename=\"gift.pdf\"");
	PQclear(row);
}
