/*
 * ai_contract.h — the AI contract as code. Each AI task declares the only input fields it may
 * be sent and the one output column it fills; a request is built from those fields alone,
 * whatever else the caller holds, and the model's answer is accepted only as a JSON object
 * holding that one column's text, within its length, with no markup, link, template syntax
 * or control character in it.
 *
 * The same declarations live in scrollkeep.ai_contracts (migration 018): ai_calls refuses a
 * recorded call that strays from them, so the C and the database cannot drift apart quietly.
 */
#ifndef SK_AI_CONTRACT_H
#define SK_AI_CONTRACT_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

#define AI_MAX_INPUTS 8

struct ai_contract {
	const char *task;
	const char *inputs[AI_MAX_INPUTS]; /* NULL-terminated */
	const char *output_table;
	const char *output_column;
	size_t output_max_chars;
	const char *instruction; /* the system message: what the model is asked to do */
};

/* The contract of task ("reading_answer", "echo_followup", "council_voice"), or NULL. */
const struct ai_contract *ai_contract_find(const char *task);

/* Every declared contract, for docs and tests. */
const struct ai_contract *ai_contract_at(size_t i);
size_t ai_contract_count(void);

/* The model's input: a new object holding only the declared fields found in source (any
 * other member of source is left behind). Every declared field must be present. Returns NULL
 * with PROBLEM_INTERNAL naming the missing field. */
json_t *ai_contract_input(const struct ai_contract *c, const json_t *source, struct sk_err *err);

/* The names of input's members as a PostgreSQL text[] literal ("{question,spread}"), for
 * ai_calls.fields_sent. Field names are [a-z_] only, so no quoting is needed. The caller
 * frees it. */
char *ai_contract_field_list(const json_t *input);

/* Accept the model's message content: a JSON object with exactly one member, the output
 * column, a string of 1..output_max_chars characters that ai_text_unsafe passes. Returns
 * the text (the caller frees it) or NULL with PROBLEM_BAD_GATEWAY saying what was wrong
 * (never quoting the text). */
char *ai_contract_output(const struct ai_contract *c, const char *content, size_t len,
                         struct sk_err *err);

/* Whether AI-written text may be stored and later shown: no control character but tab and
 * newline; no bidirectional override; no HTML or XML tag, comment or entity; no URL, no
 * markdown link or image; no {{ or {% template syntax. Returns NULL when safe, else what was
 * found. */
const char *ai_text_unsafe(const char *s, size_t len);

#endif
