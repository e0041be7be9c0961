/*
 * ai_client.h — the one call scrollkeep makes to an AI: an OpenAI-compatible chat completion
 * (POST AI_API_URL, the whole endpoint URL, with "Authorization: Bearer AI_API_KEY"), through
 * libcurl. The request carries a system message (the task's instruction) and a user message
 * (the contract's input as JSON) and asks for a JSON object back. Every failure — not
 * configured, cannot connect, timeout (SCROLLKEEP_AI_TIMEOUT_MS), a non-2xx answer, an answer
 * over 256 KiB or without choices[0].message.content — is PROBLEM_BAD_GATEWAY, and no detail
 * ever quotes what was sent or received.
 */
#ifndef SK_AI_CLIENT_H
#define SK_AI_CLIENT_H

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"

struct ai_reply {
	char *content; /* choices[0].message.content; the caller frees it */
	size_t len;
	char model[101]; /* the model that answered, as the endpoint named it ([A-Za-z0-9._:/-]) */
	long duration_ms;
};

/* The request body for instruction and input (the caller frees it), or NULL. The model is
 * SCROLLKEEP_AI_MODEL (default gpt-4o-mini). */
char *ai_client_request(const char *instruction, const json_t *input);

/* POST body to the endpoint. Returns 0 with *reply filled, or -1 with err set (reply->content
 * NULL, duration_ms still measured). */
int ai_client_complete(const struct config *cfg, const char *body, struct ai_reply *reply,
                       struct sk_err *err);

#endif
