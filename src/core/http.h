/*
 * http.h — the HTTP server: libmicrohttpd underneath, a route table on top.
 *
 * Each request gets an id (a safe incoming X-Request-Id, or a random one), a body bounded by
 * its route's limit (413 before the body is read when Content-Length says it is too big), one
 * handler call with the whole body, and one JSON log line when it ends: method, route pattern
 * (never the raw path, which may hold a share token), status, sizes and duration.
 *
 * A handler whose answer depends on another thread (the webhook waits for its group commit)
 * parks its request instead of blocking the HTTP thread, which goes on with other requests:
 * http_defer, hand the work over, return; whoever finishes calls http_resume, and the handler
 * is called once more, on an HTTP thread, with req->deferred as it was left.
 */
#ifndef SK_HTTP_H
#define SK_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define HTTP_MAX_PARAMS       4
#define HTTP_PARAM_MAX        128
#define HTTP_DEFAULT_MAX_BODY (64u * 1024u)
#define HTTP_MAX_HEADERS      8

struct MHD_Connection;
struct http_route;

struct http_request {
	const char *method;
	const char *path;
	const struct http_route *route;
	char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX + 1]; /* {name} segments, in order */
	size_t nparams;
	const char *body; /* NUL-terminated; NULL when there is none */
	size_t body_len;
	char request_id[65];
	struct MHD_Connection *conn;
	void *app;
	void *deferred;                     /* the handler's state while parked, or NULL */
	void (*deferred_free)(void *state); /* frees it when the request ends */
	bool parked;                        /* the handler parked it in this call */
};

struct http_header {
	const char *name;
	char value[512];
};

struct http_response {
	int status;
	const char *content_type;
	char *body; /* malloc()ed; freed by the server */
	size_t body_len;
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
};

typedef void (*http_handler)(struct http_request *req, struct http_response *res);

struct http_route {
	const char *method;  /* "GET", "POST" */
	const char *pattern; /* "/v1/readings/{id}" */
	http_handler handler;
	size_t max_body; /* 0: HTTP_DEFAULT_MAX_BODY */
};

/* A request header, or NULL. */
const char *http_header(const struct http_request *req, const char *name);

/* A query-string argument (decoded), or NULL. */
const char *http_query(const struct http_request *req, const char *name);

/* Set a JSON response; takes ownership of body (json_decref'd here). */
void http_respond_json(struct http_response *res, int status, json_t *body);

/* Set an RFC 9457 problem+json response from err. */
void http_respond_problem(struct http_response *res, const struct http_request *req,
                          const struct sk_err *err);

/* Set a response body of any type; takes ownership of body (malloc()ed). content_type is kept
 * as a pointer until the response is sent: pass a string literal. */
void http_respond_raw(struct http_response *res, int status, const char *content_type, char *body,
                      size_t len);

/* Add a response header (value copied, truncated at 511 bytes). Returns -1 when full. */
int http_add_header(struct http_response *res, const char *name, const char *value);

/* Park req from its handler: the handler returns without an answer and is called again once
 * http_resume(req) has been called, with req->deferred == state (freed by free_state, if not
 * NULL, when the request ends). Call before handing the work to the thread that resumes. */
void http_defer(struct http_request *req, void *state, void (*free_state)(void *state));

/* Let a parked request go on; from any thread, once, after http_defer. */
void http_resume(struct http_request *req);

/* Match path against a route pattern, filling params. Returns true on a match. Exposed for
 * the unit tests. */
bool http_route_match(const char *pattern, const char *path, char params[][HTTP_PARAM_MAX + 1],
                      size_t *nparams);

/* Whether an incoming X-Request-Id may be reused: 1 to 64 of [A-Za-z0-9._-]. */
bool http_request_id_acceptable(const char *id);

struct http_server_options {
	const char *host;
	unsigned short port; /* 0: any free port */
	int threads;
	const struct http_route *routes;
	size_t nroutes;
	void *app;
	unsigned int connection_timeout_s; /* idle and slow clients are closed after this */
};

struct http_server;

/* Start listening. Returns NULL with err filled when the address cannot be bound. */
struct http_server *http_server_start(const struct http_server_options *opt, struct sk_err *err);

/* The port actually bound (useful with port 0). */
unsigned short http_server_port(const struct http_server *srv);

/* Stop accepting (the first time) and wait, up to drain_ms, until every request begun has
 * ended: answered, or given up by its client. Idle keep-alive connections are not waited for. */
void http_server_drain(struct http_server *srv, int drain_ms);

/* Drain (up to drain_ms), then stop and free the server, closing every connection. Every
 * parked request must have been resumed by then. */
void http_server_stop(struct http_server *srv, int drain_ms);

#endif
