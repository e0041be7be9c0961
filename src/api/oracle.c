/*
 * oracle.c — the AI's routes: POST /v1/oracle/readings, /v1/oracle/echoes, /v1/oracle/council.
 * Each reads as the person, lets the connection go while the AI answers, then writes in a
 * new transaction (domain/oracle.h).
 */
#include "call.h"
#include "domain/oracle.h"

static void run_oracle(struct http_request *req, struct http_response *res, enum oracle_kind kind,
                       api_validator validate)
{
	struct api_call c;
	struct oracle_run run = {0};
	if (api_begin(&c, req, res, AUTH_PERSON, validate) < 0)
		goto done;
	if (oracle_prepare(c.conn, kind, c.who.user_id, c.body, &run, &c.err) < 0) {
		api_finish(&c, 0, NULL);
		goto done;
	}
	api_pause(&c);
	oracle_ask(c.app->cfg, &run);
	if (api_resume(&c) < 0)
		goto done;
	json_t *out = oracle_store(c.conn, c.who.user_id, c.body, &run, &c.err);
	if (!out && run.record_only)
		api_fail_recorded(&c);
	else
		api_finish(&c, 201, out);
done:
	oracle_run_free(&run);
	api_end(&c);
}

void api_oracle_reading(struct http_request *req, struct http_response *res)
{
	run_oracle(req, res, ORACLE_READING, oracle_validate_reading);
}

void api_oracle_echo(struct http_request *req, struct http_response *res)
{
	run_oracle(req, res, ORACLE_ECHO, oracle_validate_echo);
}

void api_oracle_council(struct http_request *req, struct http_response *res)
{
	run_oracle(req, res, ORACLE_COUNCIL, oracle_validate_council);
}
