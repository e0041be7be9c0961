/*
 * ai_client.c — the chat-completions call (see ai_client.h).
 */
#include "ai_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_client.h"

#define AI_MAX_ANSWER (256u * 1024u)
/* What the model may write, in tokens: the longest output column (20,000 characters) fits. */
#define AI_MAX_TOKENS 8000

static long env_long(const char *name, long fallback, long lo, long hi)
{
	const char *v = config_env(name);
	long n = v ? strtol(v, NULL, 10) : fallback;
	return n < lo ? lo : n > hi ? hi : n;
}

char *ai_client_request(const char *instruction, const json_t *input)
{
	const char *model = config_env("SCROLLKEEP_AI_MODEL");
	char *user = json_dumps(input, JSON_COMPACT | JSON_SORT_KEYS);
	if (!user)
		return NULL;
	json_t *req =
	        json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s}, s:i}", "model",
	                  model && *model ? model : "gpt-4o-mini", "messages", "role", "system",
	                  "content", instruction, "role", "user", "content", user,
	                  "response_format", "type", "json_object", "max_tokens", AI_MAX_TOKENS);
	free(user);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	return body;
}

/* The model's name as a label: only [A-Za-z0-9._:/-], at most 100 characters. */
static void copy_model(const char *name, char out[101])
{
	size_t n = 0;
	for (; name && *name && n < 100; name++)
		if ((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') ||
		    (*name >= '0' && *name <= '9') || strchr("._:/-", *name))
			out[n++] = *name;
	out[n] = '\0';
}

/* choices[0].message.content of a chat completion. */
static int read_answer(const char *body, struct ai_reply *reply, struct sk_err *err)
{
	json_error_t jerr;
	json_t *doc = json_loads(body ? body : "", 0, &jerr);
	json_t *message =
	        json_object_get(json_array_get(json_object_get(doc, "choices"), 0), "message");
	json_t *content = json_object_get(message, "content");
	int rc = -1;
	if (!json_is_string(content)) {
		err_set(err, PROBLEM_BAD_GATEWAY, "the AI's answer is not a chat completion");
	} else if (!(reply->content =
	                     strndup(json_string_value(content), json_string_length(content)))) {
		err_set(err, PROBLEM_INTERNAL, "out of memory");
	} else {
		reply->len = json_string_length(content);
		copy_model(json_string_value(json_object_get(doc, "model")), reply->model);
		rc = 0;
	}
	json_decref(doc);
	return rc;
}

int ai_client_complete(const struct config *cfg, const char *body, struct ai_reply *reply,
                       struct sk_err *err)
{
	memset(reply, 0, sizeof(*reply));
	if (!cfg->ai_api_url || !*cfg->ai_api_url)
		return err_set(err, PROBLEM_BAD_GATEWAY, "AI_API_URL is not configured");
	char auth[600];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
	         cfg->ai_api_key ? cfg->ai_api_key : "");
	const char *headers[] = {"Content-Type: application/json",
	                         cfg->ai_api_key && *cfg->ai_api_key ? auth : NULL, NULL};
	struct http_client_request rq = {
	        .method = "POST",
	        .url = cfg->ai_api_url,
	        .headers = headers,
	        .body = body,
	        .timeout_ms = env_long("SCROLLKEEP_AI_TIMEOUT_MS", 30000, 100, 300000),
	        .max_answer = AI_MAX_ANSWER};
	struct http_client_answer an;
	int rc = http_client_send(&rq, &an);
	reply->duration_ms = an.duration_ms;
	int out = -1;
	if (rc < 0 && an.too_large)
		err_set(err, PROBLEM_BAD_GATEWAY, "the AI's answer is over %u KiB",
		        AI_MAX_ANSWER / 1024);
	else if (rc < 0)
		err_set(err, PROBLEM_BAD_GATEWAY, "the AI could not be reached (%s)", an.error);
	else if (an.status < 200 || an.status > 299)
		err_set(err, PROBLEM_BAD_GATEWAY, "the AI answered %ld", an.status);
	else
		out = read_answer(an.body, reply, err);
	free(an.body);
	return out;
}
