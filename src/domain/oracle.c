/*
 * oracle.c — the AI tasks end to end (see oracle.h).
 */
#include "oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/db.h"
#include "core/json.h"
#include "domain/ai_client.h"
#include "domain/consent.h"
#include "domain/council.h"
#include "domain/echo.h"
#include "domain/reading.h"

/* ---- bodies ---- */

int oracle_validate_reading(const json_t *body, struct sk_err *err)
{
	return reading_validate_question(body, err);
}

int oracle_validate_echo(const json_t *body, struct sk_err *err)
{
	return echo_validate(body, err);
}

static const struct json_field council_fields[] = {
        {"reading_id", JSON_FIELD_UUID, true, 36, 36, NULL},
        {"voices", JSON_FIELD_ARRAY, true, 1, ORACLE_MAX_VOICES, NULL},
};

int oracle_validate_council(const json_t *body, struct sk_err *err)
{
	if (json_check_fields(body, council_fields,
	                      sizeof(council_fields) / sizeof(council_fields[0]), NULL, err) < 0)
		return -1;
	size_t i;
	const json_t *v;
	json_array_foreach(json_object_get(body, "voices"), i, v)
	{
		const char *name = json_string_value(v);
		if (!name || strlen(name) > 40 || !council_voice_name_ok(name))
			return err_set(
			        err, PROBLEM_INVALID_BODY,
			        "voices[%zu] must be a name of at most 40 characters (letters, "
			        "digits, space, . _ -)",
			        i);
	}
	return 0;
}

/* ---- prepare: read as the person, build the requests ---- */

/* Build call i of task from source: only the declared fields go in. */
static int build_call(struct oracle_run *run, const char *task, const json_t *source,
                      struct sk_err *err)
{
	struct oracle_call *call = &run->calls[run->n];
	memset(call, 0, sizeof(*call));
	call->contract = ai_contract_find(task);
	json_t *input = call->contract ? ai_contract_input(call->contract, source, err) : NULL;
	if (!input)
		return call->contract ? -1
		                      : err_set(err, PROBLEM_INTERNAL, "no contract for %s", task);
	call->request = ai_client_request(call->contract->instruction, input);
	call->fields_sent = ai_contract_field_list(input);
	json_decref(input);
	run->n++;
	if (!call->request || !call->fields_sent)
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	crypto_sha256_hex(call->request, strlen(call->request), call->input_sha256);
	return 0;
}

/* The reading's question, answer, cards, and whole days from its seal to when (if given). */
static json_t *read_reading(PGconn *conn, const char *user_id, const char *reading_id,
                            const char *when, struct sk_err *err)
{
	const char *params[] = {reading_id, user_id, when};
	PGresult *res = db_query(
	        conn,
	        "SELECT question, answer, spread::text,"
	        " greatest(0, floor(extract(epoch FROM coalesce($3::timestamptz, now()) - sealed_at)"
	        "                   / 86400))::int"
	        " FROM public.readings WHERE id = $1 AND user_id = $2 AND anonymized_at IS NULL",
	        3, params, err);
	if (!res)
		return NULL;
	json_t *out = NULL;
	if (PQntuples(res) != 1) {
		err_set(err, PROBLEM_NOT_FOUND, "no such reading");
	} else {
		json_error_t jerr;
		out = json_pack("{s:s, s:s, s:o?, s:i}", "question", PQgetvalue(res, 0, 0),
		                "answer", PQgetvalue(res, 0, 1), "spread",
		                json_loads(PQgetvalue(res, 0, 2), 0, &jerr), "days_after",
		                atoi(PQgetvalue(res, 0, 3)));
		if (!out)
			err_set(err, PROBLEM_INTERNAL, "cannot read the reading");
	}
	PQclear(res);
	return out;
}

static int prepare_echo(PGconn *conn, const char *user_id, const json_t *body,
                        struct oracle_run *run, struct sk_err *err)
{
	const char *reading_id = json_str(body, "reading_id");
	const char *when = json_str(body, "scheduled_for");
	if (echo_check(conn, user_id, reading_id, when, err) < 0)
		return -1;
	json_t *reading = read_reading(conn, user_id, reading_id, when, err);
	int rc = reading ? build_call(run, "echo_followup", reading, err) : -1;
	json_decref(reading);
	return rc;
}

static int prepare_council(PGconn *conn, const char *user_id, const json_t *body,
                           struct oracle_run *run, struct sk_err *err)
{
	const char *reading_id = json_str(body, "reading_id");
	if (council_check_reading(conn, user_id, reading_id, err) < 0)
		return -1;
	json_t *reading = read_reading(conn, user_id, reading_id, NULL, err);
	if (!reading)
		return -1;
	int rc = 0;
	size_t i;
	json_t *voice;
	json_array_foreach(json_object_get(body, "voices"), i, voice)
	{
		json_object_set(reading, "voice", voice);
		if ((rc = build_call(run, "council_voice", reading, err)) < 0)
			break;
	}
	json_decref(reading);
	return rc;
}

int oracle_prepare(PGconn *conn, enum oracle_kind kind, const char *user_id, const json_t *body,
                   struct oracle_run *run, struct sk_err *err)
{
	memset(run, 0, sizeof(*run));
	run->kind = kind;
	static const char *const needs[] = {"ai_processing"};
	if (consent_require(conn, user_id, needs, 1, err) < 0)
		return -1;
	switch (kind) {
	case ORACLE_READING:
		return build_call(run, "reading_answer", body, err);
	case ORACLE_ECHO:
		return prepare_echo(conn, user_id, body, run, err);
	case ORACLE_COUNCIL:
		return prepare_council(conn, user_id, body, run, err);
	}
	return err_set(err, PROBLEM_INTERNAL, "unknown oracle task");
}

/* ---- ask: no database ---- */

void oracle_ask(const struct config *cfg, struct oracle_run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		struct oracle_call *call = &run->calls[i];
		struct ai_reply reply;
		if (ai_client_complete(cfg, call->request, &reply, &call->err) < 0) {
			call->status = "failed";
		} else {
			call->output = ai_contract_output(call->contract, reply.content, reply.len,
			                                  &call->err);
			call->status = call->output ? "succeeded" : "rejected_output";
			snprintf(call->model, sizeof(call->model), "%s", reply.model);
		}
		call->duration_ms = reply.duration_ms;
		free(reply.content);
		if (!call->output)
			return; /* the rest would be thrown away: do not send them */
	}
}

/* ---- store: the output as the AI writer, the ledger as service_role ---- */

static int record_calls(PGconn *conn, const char *user_id, const struct oracle_run *run,
                        struct sk_err *err)
{
	if (db_set_role(conn, DB_ROLE_SERVICE, err) < 0)
		return -1;
	for (size_t i = 0; i < run->n && run->calls[i].status; i++) {
		const struct oracle_call *call = &run->calls[i];
		char ms[24];
		snprintf(ms, sizeof(ms), "%ld", call->duration_ms);
		const char *params[] = {call->contract->task,
		                        user_id,
		                        call->fields_sent,
		                        call->input_sha256,
		                        call->contract->output_table,
		                        call->output_id,
		                        call->status,
		                        call->model,
		                        ms};
		if (db_exec(conn,
		            "INSERT INTO public.ai_calls (task, user_id, fields_sent, input_sha256,"
		            " output_table, output_id, status, model, duration_ms)"
		            " VALUES ($1, $2, $3::text[], $4, $5, nullif($6, '')::uuid, $7,"
		            " nullif($8, ''), $9)",
		            9, params, err) < 0)
			return -1;
	}
	return 0;
}

static json_t *write_output(PGconn *conn, const char *user_id, const json_t *body,
                            struct oracle_run *run, struct sk_err *err)
{
	const char *reading_id = json_str(body, "reading_id");
	json_t *out = NULL;
	switch (run->kind) {
	case ORACLE_READING:
		out = reading_create_as(conn, user_id, body, run->calls[0].output,
		                        DB_ROLE_AI_WRITER, err);
		break;
	case ORACLE_ECHO:
		out = echo_store(conn, user_id, reading_id, json_str(body, "scheduled_for"),
		                 run->calls[0].output, DB_ROLE_AI_WRITER, err);
		break;
	case ORACLE_COUNCIL: {
		const char *names[ORACLE_MAX_VOICES], *texts[ORACLE_MAX_VOICES];
		char ids[ORACLE_MAX_VOICES][37];
		for (size_t i = 0; i < run->n; i++) {
			names[i] = json_string_value(
			        json_array_get(json_object_get(body, "voices"), i));
			texts[i] = run->calls[i].output;
		}
		out = council_store(conn, user_id, reading_id, names, texts, run->n,
		                    DB_ROLE_AI_WRITER, ids, err);
		for (size_t i = 0; out && i < run->n; i++)
			memcpy(run->calls[i].output_id, ids[i], sizeof(ids[i]));
		return out;
	}
	}
	if (out)
		snprintf(run->calls[0].output_id, sizeof(run->calls[0].output_id), "%s",
		         json_str(out, "id"));
	return out;
}

/* The first call that did not succeed, if any. */
static struct oracle_call *first_refused(struct oracle_run *run)
{
	for (size_t i = 0; i < run->n; i++)
		if (!run->calls[i].output)
			return &run->calls[i];
	return NULL;
}

json_t *oracle_store(PGconn *conn, const char *user_id, const json_t *body, struct oracle_run *run,
                     struct sk_err *err)
{
	struct oracle_call *refused = first_refused(run);
	json_t *out = NULL;
	if (!refused) {
		if (db_exec(conn, "SAVEPOINT oracle_output", 0, NULL, err) < 0)
			return NULL;
		out = write_output(conn, user_id, body, run, err);
		if (!out) {
			if (db_exec(conn, "ROLLBACK TO SAVEPOINT oracle_output", 0, NULL, NULL) < 0)
				return NULL;
			for (size_t i = 0; i < run->n; i++) {
				run->calls[i].status = "failed";
				run->calls[i].output_id[0] = '\0';
			}
		}
	} else {
		*err = refused->err;
	}
	struct sk_err why = *err;
	if (record_calls(conn, user_id, run, err) < 0) {
		json_decref(out);
		return NULL;
	}
	if (!out) {
		*err = why;
		run->record_only = true;
	}
	return out;
}

void oracle_run_free(struct oracle_run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		free(run->calls[i].request);
		free(run->calls[i].fields_sent);
		free(run->calls[i].output);
	}
	run->n = 0;
}
