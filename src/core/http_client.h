/*
 * http_client.h — the outgoing HTTP requests scrollkeep makes (the Stripe API, the AI
 * endpoint, the demo's calls to its own API), through libcurl: http and https only, a connect
 * timeout of 5 s, a whole-call timeout, and a cap on the answer's size. No signal is used, so
 * it is safe in threads.
 */
#ifndef SK_HTTP_CLIENT_H
#define SK_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct http_client_request {
	const char *method; /* "GET" or "POST" */
	const char *url;
	const char *const *headers; /* "Name: value" lines, NULL-terminated; or NULL */
	const char *body;           /* sent when not NULL */
	long timeout_ms;
	size_t max_answer; /* bytes */
};

struct http_client_answer {
	long status; /* 0 when no answer came */
	char *body;  /* NUL-terminated, the caller frees it; NULL when none */
	size_t len;
	long duration_ms;
	bool too_large;  /* the answer passed max_answer and was cut off */
	char error[128]; /* why no answer came (libcurl's words, never the request) */
};

/* Send rq. Returns 0 when an answer came (whatever its status), -1 when none did (too large,
 * cannot connect, timeout: an->error says which). */
int http_client_send(const struct http_client_request *rq, struct http_client_answer *an);

#endif
