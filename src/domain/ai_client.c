/*
 * ai_client.c — the chat-completions call (see ai_client.h).
 */
#include "ai_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"

#define AI_MAX_ANSWER (256u * 1024u)
/* What the model may write, in tokens: the longest output column (20,000 characters) fits. */
#define AI_MAX_TOKENS 8000

static size_t collect(char *data, size_t size, size_t nmemb, void *userp)
{
	struct buf *b = userp;
	size_t n = size * nmemb;
	if (b->len + n > AI_MAX_ANSWER)
		return 0; /* stops the transfer: CURLE_WRITE_ERROR */
	buf_append(b, data, n);
	return n;
}

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

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
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
	CURL *curl = curl_easy_init();
	if (!curl)
		return err_set(err, PROBLEM_BAD_GATEWAY, "cannot start an HTTP client");
	char auth[600];
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (cfg->ai_api_key && *cfg->ai_api_key) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->ai_api_key);
		headers = curl_slist_append(headers, auth);
	}
	struct buf answer = {0};
	curl_easy_setopt(curl, CURLOPT_URL, cfg->ai_api_url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
	                 env_long("SCROLLKEEP_AI_TIMEOUT_MS", 30000, 100, 300000));
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	CURLcode rc = curl_easy_perform(curl);
	reply->duration_ms = elapsed_ms(&start);
	long status = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	char *text = buf_take(&answer);
	int out = -1;
	if (rc == CURLE_WRITE_ERROR)
		err_set(err, PROBLEM_BAD_GATEWAY, "the AI's answer is over %u KiB",
		        AI_MAX_ANSWER / 1024);
	else if (rc != CURLE_OK)
		err_set(err, PROBLEM_BAD_GATEWAY, "the AI could not be reached (%s)",
		        curl_easy_strerror(rc));
	else if (status < 200 || status > 299)
		err_set(err, PROBLEM_BAD_GATEWAY, "the AI answered %ld", status);
	else
		out = read_answer(text, reply, err);
	free(text);
	return out;
}
