/*
 * call.c — the shape every authenticated route shares (see call.h).
 */
#include "call.h"

#include <ctype.h>
#include <string.h>

#include "core/json.h"

static void answer_problem(struct api_call *c)
{
	http_respond_problem(c->res, c->req, &c->err);
	if (c->err.problem == PROBLEM_UNAUTHORIZED) {
		/* RFC 6750: say that a bearer token is wanted, and whether the one sent failed. */
		http_add_header(c->res, "WWW-Authenticate",
		                strcmp(c->err.code, "token_missing") == 0
		                        ? "Bearer realm=\"scrollkeep\""
		                        : "Bearer realm=\"scrollkeep\", error=\"invalid_token\"");
	}
}

/* Borrow a connection and BEGIN as the database role matching the caller, with its claims. */
static int begin_transaction(struct api_call *c)
{
	c->conn = db_acquire(c->app->pool, 5000, &c->err);
	if (!c->conn)
		return -1;
	enum db_role db_role = c->who.role == AUTH_PERSON ? DB_ROLE_AUTHENTICATED : DB_ROLE_SERVICE;
	return db_begin_as(c->conn, db_role, c->who.claims_json, &c->err);
}

int api_begin(struct api_call *c, struct http_request *req, struct http_response *res,
              enum auth_role role, api_validator validate)
{
	memset(c, 0, sizeof(*c));
	c->req = req;
	c->res = res;
	c->app = req->app;
	if (auth_verify(http_header(req, "Authorization"), c->app->cfg->jwt_secret, role, &c->who,
	                &c->err) < 0)
		goto fail;
	if (validate) {
		c->body = json_parse_body(http_header(req, "Content-Type"), req->body,
		                          req->body_len, &c->err);
		if (!c->body || validate(c->body, &c->err) < 0)
			goto fail;
	}
	if (begin_transaction(c) < 0)
		goto fail;
	return 0;
fail:
	answer_problem(c);
	return -1;
}

void api_finish(struct api_call *c, int status, json_t *out)
{
	if (!out) {
		if (c->err.problem == PROBLEM_NONE)
			err_set(&c->err, PROBLEM_INTERNAL, "the request failed");
		db_rollback(c->conn);
		answer_problem(c);
		return;
	}
	if (db_commit(c->conn, &c->err) < 0) {
		json_decref(out);
		answer_problem(c);
		return;
	}
	http_respond_json(c->res, status, out);
}

int api_pause(struct api_call *c)
{
	if (c->conn) {
		db_rollback(c->conn);
		db_release(c->app->pool, c->conn);
		c->conn = NULL;
	}
	return 0;
}

int api_resume(struct api_call *c)
{
	if (begin_transaction(c) == 0)
		return 0;
	answer_problem(c);
	return -1;
}

void api_fail_recorded(struct api_call *c)
{
	struct sk_err why = c->err;
	if (db_commit(c->conn, &c->err) == 0)
		c->err = why;
	answer_problem(c);
}

void api_end(struct api_call *c)
{
	if (c->conn)
		db_release(c->app->pool, c->conn);
	c->conn = NULL;
	json_decref(c->body);
	c->body = NULL;
	auth_clear(&c->who);
}

const char *api_uuid_param(struct api_call *c, size_t idx)
{
	char *p = idx < c->req->nparams ? c->req->params[idx] : NULL;
	if (!p || !json_is_uuid(p)) {
		err_set(&c->err, PROBLEM_BAD_REQUEST, "the id in the path must be a UUID");
		answer_problem(c);
		return NULL;
	}
	for (char *q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}
