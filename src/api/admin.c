/*
 * admin.c — the operators' routes, for the service role: GET /v1/admin/jobs,
 * GET /v1/admin/jobs/{id} and POST /v1/admin/jobs/{id}/retry ({id} is a job id or a
 * support reference), and GET /v1/admin/audit. A retry is audited with the body's actor and
 * reason.
 */
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "core/json.h"
#include "core/num.h"
#include "domain/audit.h"
#include "jobs/support.h"

/* The {id} path parameter when it names a job, else answers 400. */
static const char *job_param(struct api_call *c)
{
	const char *ref = c->req->nparams ? c->req->params[0] : NULL;
	if (!ref || !jobs_ref_valid(ref)) {
		err_set(&c->err, PROBLEM_BAD_REQUEST,
		        "the path needs a job id or a support reference");
		api_finish(c, 0, NULL);
		return NULL;
	}
	return ref;
}

void api_admin_jobs_list(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_SERVICE, NULL) == 0) {
		const char *older = http_query(req, "older_than_s");
		const char *limit = http_query(req, "limit");
		long long older_s = 0, max_rows = 100;
		if ((older && num_parse(older, 0, 100LL * 365 * 86400, &older_s) < 0) ||
		    (limit && num_parse(limit, 1, 1000, &max_rows) < 0)) {
			err_set(&c.err, PROBLEM_BAD_REQUEST,
			        "older_than_s is 0 or more seconds, limit 1..1000");
			api_finish(&c, 0, NULL);
		} else {
			struct jobs_filter f = {
			        .kind = http_query(req, "kind"),
			        .status = http_query(req, "status"),
			        .user_id = http_query(req, "user"),
			        .support_ref = http_query(req, "support_ref"),
			        .older_than_s = (long)older_s,
			        .limit = (int)max_rows,
			};
			api_finish(&c, 200, jobs_list(c.conn, &f, &c.err));
		}
	}
	api_end(&c);
}

void api_admin_jobs_show(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_SERVICE, NULL) == 0) {
		const char *ref = job_param(&c);
		if (ref)
			api_finish(&c, 200, jobs_show(c.conn, ref, &c.err));
	}
	api_end(&c);
}

void api_admin_jobs_retry(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_SERVICE, jobs_retry_validate) == 0) {
		const char *ref = job_param(&c);
		const char *actor = json_str(c.body, "actor");
		if (ref)
			api_finish(&c, 200,
			           jobs_retry(c.conn, ref, actor ? actor : "service",
			                      actor ? "operator" : "service",
			                      json_str(c.body, "reason"), &c.err));
	}
	api_end(&c);
}

/* A query parameter that must be a positive integer when present: its value, 0 when absent,
 * -1 when malformed. */
static long long query_number(struct http_request *req, const char *name)
{
	const char *text = http_query(req, name);
	if (!text)
		return 0;
	char *end;
	long long v = strtoll(text, &end, 10);
	return *text < '0' || *text > '9' || *end || v < 1 ? -1 : v;
}

/* GET /v1/admin/audit?limit=&before=&after=&action= — the trail in chain order, latest page
 * first (before= pages back, after= pages forward). */
void api_admin_audit_list(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_SERVICE, NULL) == 0) {
		long long limit = http_query(req, "limit") ? query_number(req, "limit") : 100;
		struct audit_filter f = {
		        .before = query_number(req, "before"),
		        .after = query_number(req, "after"),
		        .action = http_query(req, "action"),
		        .limit = limit > 0 && limit <= 1000 ? (int)limit : -1,
		};
		api_finish(&c, 200, audit_list(c.conn, &f, &c.err));
	}
	api_end(&c);
}
