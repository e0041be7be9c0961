/*
 * oracle.h — the AI at work under its contract (ai_contract.h): the oracle answers a question
 * (a new sealed reading), writes an Echo follow-up, and speaks the voices of a Council.
 *
 * A run has three steps, so no database connection is held while the AI thinks:
 *   oracle_prepare  read as the person (RLS): their reading, ai_processing (and for an Echo,
 *                   email_delivery) granted; build each request from the contract's fields
 *                   only. Writes nothing; a refusal here means nothing was sent.
 *   oracle_ask      the calls, with no database; each answer checked against the contract.
 *   oracle_store    in a new transaction: the output inserted as scrollkeep_ai_writer (which
 *                   also requires the consent in the database, at that moment), and one
 *                   ai_calls row per call made — task, field names, input hash, status; never
 *                   a value. When an answer was refused or could not be written, only the
 *                   ai_calls rows are written (run->record_only), so the caller commits them
 *                   and answers the problem.
 */
#ifndef SK_ORACLE_H
#define SK_ORACLE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "core/config.h"
#include "core/err.h"
#include "domain/ai_contract.h"

#define ORACLE_MAX_VOICES 6

enum oracle_kind { ORACLE_READING, ORACLE_ECHO, ORACLE_COUNCIL };

struct oracle_call {
	const struct ai_contract *contract;
	char *request;     /* the whole body sent */
	char *fields_sent; /* the names of the fields sent, as a text[] literal */
	char input_sha256[65];
	char *output;       /* the accepted text */
	const char *status; /* NULL until asked; succeeded, rejected_output or failed */
	char model[101];
	long duration_ms;
	char output_id[37];
	struct sk_err err;
};

struct oracle_run {
	enum oracle_kind kind;
	size_t n;
	struct oracle_call calls[ORACLE_MAX_VOICES];
	bool record_only; /* oracle_store wrote only the ledger: commit it, answer the problem */
};

/* Validate the bodies of POST /v1/oracle/readings ({question, spread, public_title,
 * public_line, product_code?}), /v1/oracle/echoes ({reading_id, scheduled_for}) and
 * /v1/oracle/council ({reading_id, voices: [name, …] (1..6)}). */
int oracle_validate_reading(const json_t *body, struct sk_err *err);
int oracle_validate_echo(const json_t *body, struct sk_err *err);
int oracle_validate_council(const json_t *body, struct sk_err *err);

int oracle_prepare(PGconn *conn, enum oracle_kind kind, const char *user_id, const json_t *body,
                   struct oracle_run *run, struct sk_err *err);

void oracle_ask(const struct config *cfg, struct oracle_run *run);

/* The route's answer, or NULL with err (and run->record_only when the ledger was written). */
json_t *oracle_store(PGconn *conn, const char *user_id, const json_t *body, struct oracle_run *run,
                     struct sk_err *err);

void oracle_run_free(struct oracle_run *run);

#endif
