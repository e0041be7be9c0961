/*
 * consents.c — POST /v1/consents, GET /v1/consents, GET /v1/consents/history.
 */
#include "call.h"
#include "domain/consent.h"

void api_consents_record(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, consent_validate) == 0)
		api_finish(&c, 201,
		           consent_record(c.conn, c.who.user_id, c.body, "person", &c.err));
	api_end(&c);
}

void api_consents_current(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0)
		api_finish(&c, 200, consent_current(c.conn, c.who.user_id, &c.err));
	api_end(&c);
}

void api_consents_history(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0)
		api_finish(&c, 200, consent_history(c.conn, c.who.user_id, &c.err));
	api_end(&c);
}
