/*
 * http.c — libmicrohttpd glue: per-request state, body limits, routing, responses and the
 * request log line.
 *
 * libmicrohttpd calls the access handler several times per request: once when the headers
 * are in, once per chunk of body, and once when the body is complete. State lives in a
 * struct request_state hung on *con_cls and freed by the completion callback.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "metrics.h"

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_server_options opt;
	unsigned short port;
	MHD_socket listener; /* closed by http_server_stop once quiesced */
	bool quiesced;
	atomic_int in_flight; /* requests begun and not yet ended (answered, or given up) */
};

struct request_state {
	struct timespec started;
	struct http_request req;
	size_t max_body;
	char *body;
	size_t body_len;
	size_t body_cap;
	size_t discarded;
	bool too_large;
	bool responded;
	int status;
	size_t bytes_out;
};

/* ---- helpers used by handlers ---- */

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void http_respond_raw(struct http_response *res, int status, const char *content_type, char *body,
                      size_t len)
{
	free(res->body);
	res->status = status;
	res->content_type = content_type;
	res->body = body;
	res->body_len = len;
}

void http_respond_json(struct http_response *res, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		static const char fallback[] = "{\"type\":\"urn:scrollkeep:problem:internal\","
		                               "\"title\":\"Internal error\",\"status\":500}";
		http_respond_raw(res, 500, "application/problem+json", strdup(fallback),
		                 sizeof(fallback) - 1);
		return;
	}
	http_respond_raw(res, status, "application/json", text, strlen(text));
}

/* "a,b" -> ["a", "b"] */
static json_t *split_list(const char *csv)
{
	json_t *list = json_array();
	const char *p = csv;
	while (list && *p) {
		size_t n = strcspn(p, ",");
		json_array_append_new(list, json_stringn(p, n));
		p += n;
		if (*p == ',')
			p++;
	}
	return list;
}

void http_respond_problem(struct http_response *res, const struct http_request *req,
                          const struct sk_err *err)
{
	enum problem p = err && err->problem != PROBLEM_NONE ? err->problem : PROBLEM_INTERNAL;
	char type[96];
	snprintf(type, sizeof(type), "urn:scrollkeep:problem:%s", problem_slug(p));
	int status = problem_status(p);
	json_t *body = json_pack("{s:s, s:s, s:i}", "type", type, "title", problem_title(p),
	                         "status", status);
	if (body && err && err->detail[0])
		json_object_set_new(body, "detail", json_string(err->detail));
	if (body && req)
		json_object_set_new(body, "instance", json_string(req->request_id));
	if (body && err && err->code[0])
		json_object_set_new(body, "code", json_string(err->code));
	if (body && err && err->missing_consent[0])
		json_object_set_new(body, "missing_consent", split_list(err->missing_consent));
	http_respond_json(res, status, body);
	res->content_type = "application/problem+json";
}

int http_add_header(struct http_response *res, const char *name, const char *value)
{
	if (res->nheaders >= HTTP_MAX_HEADERS)
		return -1;
	struct http_header *h = &res->headers[res->nheaders++];
	h->name = name;
	snprintf(h->value, sizeof(h->value), "%s", value);
	return 0;
}

void http_defer(struct http_request *req, void *state, void (*free_state)(void *state))
{
	req->deferred = state;
	req->deferred_free = free_state;
	req->parked = true;
	MHD_suspend_connection(req->conn);
}

void http_resume(struct http_request *req)
{
	MHD_resume_connection(req->conn);
}

/* ---- routing ---- */

bool http_route_match(const char *pattern, const char *path, char params[][HTTP_PARAM_MAX + 1],
                      size_t *nparams)
{
	*nparams = 0;
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			if (!close)
				return false;
			size_t n = strcspn(s, "/");
			if (n == 0 || n > HTTP_PARAM_MAX || *nparams >= HTTP_MAX_PARAMS)
				return false;
			memcpy(params[*nparams], s, n);
			params[*nparams][n] = '\0';
			(*nparams)++;
			p = close + 1;
			s += n;
		} else if (*p == *s) {
			p++;
			s++;
		} else {
			return false;
		}
	}
	return *p == '\0' && *s == '\0';
}

/* Find the route for method and path. *path_matched is set when some route has the path
 * (so a wrong method is 405, not 404). */
static const struct http_route *find_route(const struct http_server_options *opt,
                                           struct http_request *req, bool *path_matched)
{
	*path_matched = false;
	for (size_t i = 0; i < opt->nroutes; i++) {
		const struct http_route *r = &opt->routes[i];
		if (!http_route_match(r->pattern, req->path, req->params, &req->nparams))
			continue;
		*path_matched = true;
		if (strcmp(r->method, req->method) == 0)
			return r;
	}
	req->nparams = 0;
	return NULL;
}

static void allowed_methods(const struct http_server_options *opt, const char *path, char *out,
                            size_t len)
{
	char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX + 1];
	size_t n;
	out[0] = '\0';
	for (size_t i = 0; i < opt->nroutes; i++) {
		if (!http_route_match(opt->routes[i].pattern, path, params, &n))
			continue;
		if (out[0])
			strncat(out, ", ", len - strlen(out) - 1);
		strncat(out, opt->routes[i].method, len - strlen(out) - 1);
	}
}

/* ---- request ids ---- */

bool http_request_id_acceptable(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void assign_request_id(struct http_request *req)
{
	const char *incoming = http_header(req, "X-Request-Id");
	if (incoming && http_request_id_acceptable(incoming)) {
		snprintf(req->request_id, sizeof(req->request_id), "%s", incoming);
		return;
	}
	uint8_t raw[16];
	if (crypto_random(raw, sizeof(raw)) < 0)
		memset(raw, 0, sizeof(raw));
	crypto_hex(raw, sizeof(raw), req->request_id);
}

/* ---- sending ---- */

static enum MHD_Result send_response(struct request_state *rs, struct http_response *res)
{
	if (!res->body) {
		res->body = strdup("");
		res->body_len = 0;
	}
	struct MHD_Response *mr =
	        MHD_create_response_from_buffer(res->body_len, res->body, MHD_RESPMEM_MUST_FREE);
	if (!mr) {
		free(res->body);
		return MHD_NO;
	}
	res->body = NULL; /* MHD owns it now */
	MHD_add_response_header(mr, "Content-Type",
	                        res->content_type ? res->content_type : "application/json");
	MHD_add_response_header(mr, "X-Request-Id", rs->req.request_id);
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	bool has_cache_control = false;
	for (size_t i = 0; i < res->nheaders; i++) {
		MHD_add_response_header(mr, res->headers[i].name, res->headers[i].value);
		if (strcasecmp(res->headers[i].name, "Cache-Control") == 0)
			has_cache_control = true;
	}
	if (!has_cache_control)
		MHD_add_response_header(mr, "Cache-Control", "no-store");
	rs->status = res->status;
	rs->bytes_out = res->body_len;
	rs->responded = true;
	enum MHD_Result ok = MHD_queue_response(rs->req.conn, (unsigned int)res->status, mr);
	MHD_destroy_response(mr);
	return ok;
}

static enum MHD_Result send_problem(struct request_state *rs, enum problem p, const char *detail)
{
	struct sk_err err;
	err_set(&err, p, "%s", detail);
	struct http_response res = {0};
	http_respond_problem(&res, &rs->req, &err);
	return send_response(rs, &res);
}

static enum MHD_Result dispatch(struct http_server *srv, struct request_state *rs)
{
	struct http_response res = {0};
	if (!rs->req.route) {
		char allow[128];
		allowed_methods(&srv->opt, rs->req.path, allow, sizeof(allow));
		if (!allow[0])
			return send_problem(rs, PROBLEM_NOT_FOUND, "no such route");
		struct sk_err err;
		err_set(&err, PROBLEM_METHOD_NOT_ALLOWED, "this route accepts %s", allow);
		http_respond_problem(&res, &rs->req, &err);
		http_add_header(&res, "Allow", allow);
		return send_response(rs, &res);
	}
	rs->req.body = rs->body;
	rs->req.body_len = rs->body_len;
	rs->req.parked = false;
	rs->req.route->handler(&rs->req, &res);
	if (rs->req.parked) { /* answered when resumed */
		free(res.body);
		return MHD_YES;
	}
	if (res.status == 0) {
		struct sk_err err;
		err_set(&err, PROBLEM_INTERNAL, "the handler gave no answer");
		http_respond_problem(&res, &rs->req, &err);
	}
	return send_response(rs, &res);
}

/* ---- libmicrohttpd callbacks ---- */

/* A method as a literal label: what a client sends is never a label value. */
static const char *method_label(const char *m)
{
	static const char *const known[] = {"GET",   "HEAD",   "POST",   "PUT",
	                                    "PATCH", "DELETE", "OPTIONS"};
	for (size_t i = 0; m && i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(m, known[i]) == 0)
			return known[i];
	return "other";
}

static void count_request(const struct request_state *rs)
{
	const char *labels[] = {"method", "route", "status"};
	const char *values[] = {rs->req.route ? rs->req.route->method
	                                      : method_label(rs->req.method),
	                        rs->req.route ? rs->req.route->pattern : "unmatched",
	                        rs->responded ? metrics_status_label(rs->status) : "none"};
	metrics_count_labels("scrollkeep_http_requests_total", "HTTP requests by route and status",
	                     3, labels, values);
}

static enum MHD_Result count_length_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                           const char *value)
{
	(void)kind;
	(void)value;
	if (strcasecmp(key, "Content-Length") == 0)
		(*(int *)cls)++;
	return MHD_YES;
}

/* More than one Content-Length is how a request is smuggled past a proxy that reads the other
 * one (RFC 9112 §6.3: an unrecoverable error). libmicrohttpd takes the first; refuse them all.
 * (Content-Length with Transfer-Encoding libmicrohttpd refuses itself.) */
static bool content_length_repeated(struct MHD_Connection *conn)
{
	int n = 0;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_length_header, &n);
	return n > 1;
}

static enum MHD_Result refuse_and_close(struct request_state *rs, const char *detail)
{
	struct sk_err err;
	err_set(&err, PROBLEM_BAD_REQUEST, "%s", detail);
	struct http_response res = {0};
	http_respond_problem(&res, &rs->req, &err);
	http_add_header(&res, "Connection", "close");
	return send_response(rs, &res);
}

static bool content_length_over(struct MHD_Connection *conn, size_t limit)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (!cl)
		return false;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(cl, &end, 10);
	return errno != 0 || *end != '\0' || n > limit;
}

static int append_body(struct request_state *rs, const char *data, size_t len)
{
	if (rs->body_len + len > rs->max_body) {
		rs->too_large = true;
		return 0;
	}
	if (rs->body_len + len + 1 > rs->body_cap) {
		size_t cap = rs->body_cap ? rs->body_cap : 1024;
		while (cap < rs->body_len + len + 1)
			cap *= 2;
		char *grown = realloc(rs->body, cap);
		if (!grown)
			return -1;
		rs->body = grown;
		rs->body_cap = cap;
	}
	memcpy(rs->body + rs->body_len, data, len);
	rs->body_len += len;
	rs->body[rs->body_len] = '\0';
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct http_server *srv = cls;
	struct request_state *rs = *con_cls;

	if (!rs) { /* headers are in */
		rs = calloc(1, sizeof(*rs));
		if (!rs)
			return MHD_NO;
		*con_cls = rs;
		atomic_fetch_add(&srv->in_flight, 1);
		clock_gettime(CLOCK_MONOTONIC, &rs->started);
		rs->req.method = method;
		rs->req.path = url;
		rs->req.conn = conn;
		rs->req.app = srv->opt.app;
		assign_request_id(&rs->req);
		bool path_matched;
		rs->req.route = find_route(&srv->opt, &rs->req, &path_matched);
		rs->max_body = rs->req.route && rs->req.route->max_body ? rs->req.route->max_body
		                                                        : HTTP_DEFAULT_MAX_BODY;
		if (content_length_repeated(conn))
			return refuse_and_close(rs, "the request has more than one Content-Length");
		if (content_length_over(conn, rs->max_body))
			return send_problem(rs, PROBLEM_TOO_LARGE, "the body is over the limit");
		return MHD_YES;
	}

	if (*upload_data_size > 0) { /* a piece of the body */
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (rs->too_large) {
			/* Keep reading (and dropping) a bounded amount so the 413 can be sent;
			 * beyond that, close the connection. */
			rs->discarded += n;
			return rs->discarded > 4 * rs->max_body ? MHD_NO : MHD_YES;
		}
		return append_body(rs, upload_data, n) < 0 ? MHD_NO : MHD_YES;
	}
	(void)upload_data;

	if (rs->responded)
		return MHD_YES;
	if (rs->too_large)
		return send_problem(rs, PROBLEM_TOO_LARGE, "the body is over the limit");
	return dispatch(srv, rs);
}

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK:
		return "completed";
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
		return "timeout";
	default:
		return "aborted";
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	(void)conn;
	struct request_state *rs = *con_cls;
	if (!rs)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double ms = (double)(now.tv_sec - rs->started.tv_sec) * 1e3 +
	            (double)(now.tv_nsec - rs->started.tv_nsec) / 1e6;
	log_info("http_request", LF_STR("request_id", rs->req.request_id),
	         LF_STR("method", rs->req.method),
	         LF_STR("route", rs->req.route ? rs->req.route->pattern : "unmatched"),
	         LF_INT("status", rs->responded ? rs->status : 0), LF_DOUBLE("duration_ms", ms),
	         LF_INT("bytes_in", rs->body_len + rs->discarded),
	         LF_INT("bytes_out", rs->bytes_out), LF_STR("reason_code", termination_name(toe)));
	count_request(rs);
	if (rs->req.deferred_free)
		rs->req.deferred_free(rs->req.deferred);
	free(rs->body);
	free(rs);
	*con_cls = NULL;
	atomic_fetch_sub(&srv->in_flight, 1);
}

/* ---- the daemon ---- */

struct http_server *http_server_start(const struct http_server_options *opt, struct sk_err *err)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		err_set(err, PROBLEM_INTERNAL, "out of memory");
		return NULL;
	}
	srv->opt = *opt;

	struct sockaddr_storage addr;
	memset(&addr, 0, sizeof(addr));
	/* ITC lets MHD_quiesce_daemon() wake the pool threads for a graceful stop, and
	 * http_resume wake the thread of a parked request. */
	unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
	if (inet_pton(AF_INET, opt->host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(opt->port);
	} else if (inet_pton(AF_INET6, opt->host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(opt->port);
		flags |= MHD_USE_IPv6;
	} else {
		free(srv);
		err_set(err, PROBLEM_USAGE, "cannot listen on %s: not an IP address", opt->host);
		return NULL;
	}

	srv->daemon = MHD_start_daemon(
	        flags, opt->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
	        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
	        (unsigned int)(opt->threads > 0 ? opt->threads : 1), MHD_OPTION_CONNECTION_TIMEOUT,
	        (unsigned int)(opt->connection_timeout_s ? opt->connection_timeout_s : 15),
	        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096, MHD_OPTION_NOTIFY_COMPLETED,
	        on_completed, srv, MHD_OPTION_END);
	if (!srv->daemon) {
		free(srv);
		err_set(err, PROBLEM_UNAVAILABLE, "cannot listen on %s:%u (address in use?)",
		        opt->host, opt->port);
		return NULL;
	}
	const union MHD_DaemonInfo *info =
	        MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : opt->port;
	return srv;
}

unsigned short http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_drain(struct http_server *srv, int drain_ms)
{
	if (!srv->quiesced) {
		srv->quiesced = true;
		srv->listener = MHD_quiesce_daemon(srv->daemon);
	}
	/* Idle keep-alive connections are not waited for: they are closed at the stop. */
	for (int waited = 0; waited < drain_ms && atomic_load(&srv->in_flight) > 0; waited += 10) {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

void http_server_stop(struct http_server *srv, int drain_ms)
{
	if (!srv)
		return;
	http_server_drain(srv, drain_ms);
	MHD_stop_daemon(srv->daemon);
	if (srv->listener != MHD_INVALID_SOCKET)
		close(srv->listener);
	free(srv);
}
