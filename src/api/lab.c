/*
 * lab.c — the persistence lab over HTTP: GET /v1/lab/plan?layer=&channels=&consent=&user=
 * (service role; the panel of domain/lab.h) and GET /lab, /lab/lab.js, /lab/lab.css (the page,
 * plain files read at start from beside the catalog). The page asks for the service role key
 * and keeps it in the tab's sessionStorage only; it never reaches a URL or a log.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "core/files.h"
#include "core/log.h"
#include "domain/lab.h"
#include "jobs/handler.h"

#define LAB_FILE_MAX (256u * 1024u)

static bool handler_known(const char *kind)
{
	return job_handler_find(kind) != NULL;
}

static const char *const lab_files[LAB_FILES] = {"index.html", "lab.js", "lab.css"};

void api_lab_load(struct app *app)
{
	struct sk_err err = {0};
	const char *path = lab_catalog_path();
	app->lab_catalog = lab_catalog_load(path, handler_known, &err);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *base = dirname(dir);
	for (size_t i = 0; app->lab_catalog && i < LAB_FILES; i++) {
		char file[PATH_MAX + 32];
		snprintf(file, sizeof(file), "%s/%s", base, lab_files[i]);
		app->lab_files[i] = file_read_all(file, LAB_FILE_MAX, &app->lab_lens[i], &err);
		if (!app->lab_files[i]) {
			json_decref(app->lab_catalog);
			app->lab_catalog = NULL;
		}
	}
	if (!app->lab_catalog) {
		snprintf(app->lab_problem, sizeof(app->lab_problem), "%s", err.detail);
		log_warn("lab_unavailable", LF_STR("reason_code", "catalog_or_page_unreadable"));
	}
}

void api_lab_free(struct app *app)
{
	json_decref(app->lab_catalog);
	for (size_t i = 0; i < LAB_FILES; i++)
		free(app->lab_files[i]);
}

static bool lab_ready(struct app *app, struct http_request *req, struct http_response *res)
{
	if (app->lab_catalog)
		return true;
	struct sk_err err = {0};
	err_set(&err, PROBLEM_UNAVAILABLE, "the lab is not loaded: %s", app->lab_problem);
	http_respond_problem(res, req, &err);
	return false;
}

void api_lab_plan(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_SERVICE, NULL) == 0 && lab_ready(c.app, req, res)) {
		struct lab_query q = {.layer = http_query(req, "layer"),
		                      .channels = http_query(req, "channels"),
		                      .consent = http_query(req, "consent"),
		                      .user_id = http_query(req, "user")};
		json_t *plan = NULL;
		if (q.consent && q.user_id)
			err_set(&c.err, PROBLEM_BAD_REQUEST, "give consent or user, not both");
		else if (db_exec(c.conn, "SET TRANSACTION READ ONLY", 0, NULL, &c.err) == 0)
			plan = lab_plan(c.conn, c.app->lab_catalog, handler_known, &q, &c.err);
		api_finish(&c, 200, plan);
	}
	api_end(&c);
}

/* One of the page's files, with headers that keep it to itself. */
static void serve_file(struct http_request *req, struct http_response *res, size_t i,
                       const char *type)
{
	struct app *app = req->app;
	if (!lab_ready(app, req, res))
		return;
	char *copy = malloc(app->lab_lens[i] + 1);
	if (!copy) {
		struct sk_err err = {0};
		err_set(&err, PROBLEM_INTERNAL, "out of memory");
		http_respond_problem(res, req, &err);
		return;
	}
	memcpy(copy, app->lab_files[i], app->lab_lens[i] + 1);
	http_respond_raw(res, 200, type, copy, app->lab_lens[i]);
	http_add_header(
	        res, "Content-Security-Policy",
	        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
	        " img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
	http_add_header(res, "Referrer-Policy", "no-referrer");
	http_add_header(res, "Cache-Control", "no-cache");
}

void api_lab_page(struct http_request *req, struct http_response *res)
{
	serve_file(req, res, 0, "text/html; charset=utf-8");
}

void api_lab_asset(struct http_request *req, struct http_response *res)
{
	const char *name = req->nparams ? req->params[0] : "";
	if (strcmp(name, "lab.js") == 0)
		return serve_file(req, res, 1, "text/javascript; charset=utf-8");
	if (strcmp(name, "lab.css") == 0)
		return serve_file(req, res, 2, "text/css; charset=utf-8");
	struct sk_err err = {0};
	err_set(&err, PROBLEM_NOT_FOUND, "no such file");
	http_respond_problem(res, req, &err);
}
