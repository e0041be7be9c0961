/*
 * http_client.c — outgoing HTTP with libcurl (see http_client.h).
 */
#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"

struct sink {
	struct buf b;
	size_t max;
	bool too_large;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *userp)
{
	struct sink *s = userp;
	size_t n = size * nmemb;
	if (s->b.len + n > s->max) {
		s->too_large = true;
		return 0; /* stops the transfer: CURLE_WRITE_ERROR */
	}
	buf_append(&s->b, data, n);
	return n;
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

int http_client_send(const struct http_client_request *rq, struct http_client_answer *an)
{
	memset(an, 0, sizeof(*an));
	CURL *curl = curl_easy_init();
	if (!curl) {
		snprintf(an->error, sizeof(an->error), "cannot start an HTTP client");
		return -1;
	}
	struct curl_slist *headers = NULL;
	for (size_t i = 0; rq->headers && rq->headers[i]; i++)
		headers = curl_slist_append(headers, rq->headers[i]);
	struct sink sink = {.max = rq->max_answer};
	curl_easy_setopt(curl, CURLOPT_URL, rq->url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (rq->body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->body);
	else if (rq->method && strcmp(rq->method, "POST") == 0)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	CURLcode rc = curl_easy_perform(curl);
	an->duration_ms = elapsed_ms(&start);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &an->status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	an->too_large = sink.too_large;
	if (rc != CURLE_OK) {
		buf_free(&sink.b);
		an->status = 0;
		snprintf(an->error, sizeof(an->error), "%s",
		         sink.too_large ? "the answer is too large" : curl_easy_strerror(rc));
		return -1;
	}
	an->len = sink.b.len;
	an->body = buf_take(&sink.b);
	return 0;
}
