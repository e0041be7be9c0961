/*
 * err.c — the problem table: status, slug and title of every problem kind.
 */
#include "err.h"

#include <stdio.h>
#include <string.h>

struct problem_info {
	int status;
	const char *slug;
	const char *title;
};

static const struct problem_info problems[] = {
        [PROBLEM_NONE] = {200, "none", "No problem"},
        [PROBLEM_BAD_REQUEST] = {400, "bad-request", "The request is malformed"},
        [PROBLEM_INVALID_JSON] = {400, "invalid-json", "The body is not valid JSON"},
        [PROBLEM_UNAUTHORIZED] = {401, "unauthorized", "Authentication is required"},
        [PROBLEM_FORBIDDEN] = {403, "forbidden", "This role may not do that"},
        [PROBLEM_NOT_FOUND] = {404, "not-found", "Not found"},
        [PROBLEM_METHOD_NOT_ALLOWED] = {405, "method-not-allowed", "Method not allowed"},
        [PROBLEM_CONFLICT] = {409, "conflict", "The request conflicts with the current state"},
        [PROBLEM_TOO_LARGE] = {413, "too-large", "The body is too large"},
        [PROBLEM_UNSUPPORTED_MEDIA] = {415, "unsupported-media-type",
                                       "The body must be application/json"},
        [PROBLEM_INVALID_BODY] = {422, "invalid-body", "The body breaks the route's schema"},
        [PROBLEM_CONSENT_REQUIRED] = {422, "consent-required",
                                      "A consent this needs is not granted"},
        [PROBLEM_INTERNAL] = {500, "internal", "Internal error"},
        [PROBLEM_BAD_GATEWAY] = {502, "bad-gateway", "An upstream service failed"},
        [PROBLEM_UNAVAILABLE] = {503, "unavailable", "The service is unavailable"},
        [PROBLEM_USAGE] = {400, "usage", "Bad usage"},
        [PROBLEM_FINDING] = {500, "finding", "A check found a problem"},
};

static const struct problem_info *info(enum problem problem)
{
	if ((unsigned)problem >= sizeof(problems) / sizeof(problems[0]))
		return &problems[PROBLEM_INTERNAL];
	return &problems[problem];
}

int err_set(struct sk_err *err, enum problem problem, const char *fmt, ...)
{
	if (!err)
		return -1;
	err->problem = problem;
	err->code[0] = '\0';
	err->sqlstate[0] = '\0';
	err->missing_consent[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return -1;
}

void err_clear(struct sk_err *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int err_code(struct sk_err *err, const char *code)
{
	if (err)
		snprintf(err->code, sizeof(err->code), "%s", code);
	return -1;
}

int problem_status(enum problem problem)
{
	return info(problem)->status;
}

const char *problem_slug(enum problem problem)
{
	return info(problem)->slug;
}

const char *problem_title(enum problem problem)
{
	return info(problem)->title;
}

int problem_exit_code(enum problem problem)
{
	return problem == PROBLEM_USAGE ? 2 : 1;
}
