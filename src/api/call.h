/*
 * call.h — how a route handler runs a call: authenticate, validate the body, open one
 * transaction as the caller's role, answer, and always clean up.
 *
 *   void api_x(struct http_request *req, struct http_response *res)
 *   {
 *           struct api_call c;
 *           if (api_begin(&c, req, res, AUTH_PERSON, x_validate) == 0)
 *                   api_finish(&c, 201, x_create(c.conn, c.who.user_id, c.body, &c.err));
 *           api_end(&c);
 *   }
 *
 * The order is fixed: a bad token is refused before the body is read, a bad body before the
 * database is touched, and a failed step rolls the whole transaction back, so a refused
 * request never leaves a row behind.
 */
#ifndef SK_CALL_H
#define SK_CALL_H

#include <jansson.h>
#include <libpq-fe.h>

#include "app.h"
#include "domain/auth.h"

typedef int (*api_validator)(const json_t *body, struct sk_err *err);

struct api_call {
	struct http_request *req;
	struct http_response *res;
	struct app *app;
	struct auth_identity who;
	PGconn *conn;
	json_t *body; /* the parsed body, when the route takes one */
	struct sk_err err;
};

/* Authenticate as role, parse and validate the body when validate is not NULL, borrow a
 * connection and BEGIN as the matching database role with the token's claims. Returns -1
 * with the problem already answered. api_end() must follow either way. */
int api_begin(struct api_call *c, struct http_request *req, struct http_response *res,
              enum auth_role role, api_validator validate);

/* Answer: when out is NULL, the problem in c->err (rolled back); otherwise COMMIT and answer
 * status with out (taken over). A failed COMMIT is answered as a problem too. */
void api_finish(struct api_call *c, int status, json_t *out);

/* For a call that waits on an upstream (the AI): roll back the read-only transaction and give
 * the connection back, so none is held while waiting. Returns 0. */
int api_pause(struct api_call *c);

/* Borrow a connection again and BEGIN as before, with the same claims. Returns -1 with the
 * problem already answered. */
int api_resume(struct api_call *c);

/* Answer the problem in c->err but COMMIT first: for a refusal that must leave a record
 * (the AI's ledger row of a rejected answer) and nothing else. */
void api_fail_recorded(struct api_call *c);

/* Roll back what is still open, return the connection, free the identity and the body. */
void api_end(struct api_call *c);

/* Path parameter idx when it is a UUID (lower-cased); otherwise answers 400 and returns NULL. */
const char *api_uuid_param(struct api_call *c, size_t idx);

#endif
