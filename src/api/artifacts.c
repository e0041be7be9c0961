/*
 * artifacts.c — POST /v1/readings/{id}/artifacts and GET /v1/artifacts/{id}.
 */
#include "call.h"
#include "domain/artifact.h"

void api_artifacts_request(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, artifact_validate) == 0) {
		const char *reading_id = api_uuid_param(&c, 0);
		if (reading_id)
			api_finish(&c, 202,
			           artifact_request(c.conn, c.who.user_id, reading_id, c.body,
			                            &c.err));
	}
	api_end(&c);
}

void api_artifacts_get(struct http_request *req, struct http_response *res)
{
	struct api_call c;
	if (api_begin(&c, req, res, AUTH_PERSON, NULL) == 0) {
		const char *id = api_uuid_param(&c, 0);
		if (id)
			api_finish(&c, 200, artifact_get(c.conn, c.who.user_id, id, &c.err));
	}
	api_end(&c);
}
