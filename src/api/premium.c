/*
 * premium.c — the premium layers' routes: GET /v1/passport, POST /v1/echoes,
 * POST /v1/council.
 */
#include "call.h"
#include "domain/council.h"
#include "domain/echo.h"
#include "domain/passport.h"

void api_passport_get(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0)
		api_finish(&c, 200, passport_get(c.conn, c.who.user_id, &c.err));
	api_end(&c);
}

void api_echoes_schedule(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, echo_validate) == 0)
		api_finish(&c, 201, echo_schedule(c.conn, c.who.user_id, c.body, &c.err));
	api_end(&c);
}

void api_council_record(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, council_validate) == 0)
		api_finish(&c, 201, council_record(c.conn, c.who.user_id, c.body, &c.err));
	api_end(&c);
}
