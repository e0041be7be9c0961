/*
 * err.h — errors travel as values.
 *
 * A failing function returns -1 (or NULL) and fills a struct sk_err: a problem kind (which
 * fixes the HTTP status and the RFC 9457 problem type) and a detail fit for the caller.
 * The detail never holds personal data or secrets: it is shown to clients and may be logged.
 */
#ifndef SK_ERR_H
#define SK_ERR_H

#include <stdarg.h>

enum problem {
	PROBLEM_NONE = 0,
	PROBLEM_BAD_REQUEST,        /* 400 malformed request (bad id, bad query) */
	PROBLEM_INVALID_JSON,       /* 400 body is not JSON, or not UTF-8 */
	PROBLEM_UNAUTHORIZED,       /* 401 no or bad credentials */
	PROBLEM_FORBIDDEN,          /* 403 credentials fine, role not allowed */
	PROBLEM_NOT_FOUND,          /* 404 */
	PROBLEM_METHOD_NOT_ALLOWED, /* 405 */
	PROBLEM_CONFLICT,           /* 409 state conflict (duplicate, sealed, append-only) */
	PROBLEM_TOO_LARGE,          /* 413 body over the limit */
	PROBLEM_UNSUPPORTED_MEDIA,  /* 415 not application/json */
	PROBLEM_INVALID_BODY,       /* 422 well-formed JSON that breaks the route's schema */
	PROBLEM_CONSENT_REQUIRED,   /* 422 a consent the write needs is not granted */
	PROBLEM_INTERNAL,           /* 500 */
	PROBLEM_BAD_GATEWAY,        /* 502 an upstream (Stripe, SMTP, AI) failed */
	PROBLEM_UNAVAILABLE,        /* 503 database unreachable, pool exhausted, shutting down */
	PROBLEM_USAGE,              /* CLI: bad usage (exit 2) */
	PROBLEM_FINDING,            /* CLI: a check found something (exit 1) */
};

#define SK_ERR_DETAIL_MAX 256

struct sk_err {
	enum problem problem;
	char detail[SK_ERR_DETAIL_MAX];
	char code[40];             /* optional machine-readable reason ("token_expired") */
	char sqlstate[6];          /* set when the error came from PostgreSQL */
	char missing_consent[128]; /* PROBLEM_CONSENT_REQUIRED: comma-separated purposes */
};

/* Fill err (if not NULL) with a problem and a printf-style detail. Always returns -1. */
int err_set(struct sk_err *err, enum problem problem, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

void err_clear(struct sk_err *err);

/* Set err->code (after err_set, which clears it). Returns -1. */
int err_code(struct sk_err *err, const char *code);

/* HTTP status for a problem (500 for anything unknown). */
int problem_status(enum problem problem);

/* Short slug naming the problem type ("invalid-body"); the type URI is
 * urn:scrollkeep:problem:<slug>. */
const char *problem_slug(enum problem problem);

/* The RFC 9457 title: the same for every occurrence of the type. */
const char *problem_title(enum problem problem);

/* Process exit status for a CLI failure: 2 for usage, 1 otherwise. */
int problem_exit_code(enum problem problem);

#endif
