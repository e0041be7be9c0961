/*
 * readings.c — POST /v1/readings (create and seal) and GET /v1/readings/{id}.
 */
#include "call.h"
#include "domain/reading.h"

void api_readings_create(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, reading_validate) == 0)
		api_finish(&c, 201, reading_create(c.conn, c.who.user_id, c.body, &c.err));
	api_end(&c);
}

void api_readings_get(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0) {
		const char *id = api_uuid_param(&c, 0);
		if (id)
			api_finish(&c, 200, reading_get(c.conn, c.who.user_id, id, &c.err));
	}
	api_end(&c);
}
