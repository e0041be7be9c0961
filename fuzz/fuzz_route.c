/*
 * fuzz_route.c — the router on arbitrary paths against every route of the API: nothing may
 * crash or overrun, and a match must mean what it says: each {param} a non-empty segment of at
 * most HTTP_PARAM_MAX bytes without a '/', and the pattern rebuilt from the params is the path.
 * The same bytes go through num_parse, as a query value would: an accepted number is in range
 * and, unsigned, prints back as the text it came from (less a leading '+' and zeros).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/app.h"
#include "core/http.h"
#include "core/num.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The pattern with its {…} replaced by params, in out. */
static void rebuild(const char *pattern, char params[][HTTP_PARAM_MAX + 1], char *out, size_t cap)
{
	size_t n = 0, k = 0;
	for (const char *p = pattern; *p && n + HTTP_PARAM_MAX + 1 < cap; p++) {
		if (*p == '{') {
			size_t len = strlen(params[k]);
			memcpy(out + n, params[k++], len);
			n += len;
			p = strchr(p, '}');
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static void check_number(const char *text, size_t size)
{
	long long v = 0;
	if (strlen(text) != size || num_parse(text, -1000000, 1000000, &v) < 0)
		return;
	char back[32];
	snprintf(back, sizeof(back), "%lld", v);
	const char *given = text[0] == '+' ? text + 1 : text;
	/* Leading zeros ("007") are accepted as the number they spell. */
	while (given[0] == '0' && given[1])
		given++;
	if (v < -1000000 || v > 1000000 || (given[0] != '-' && strcmp(back, given) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *path = malloc(size + 1);
	if (!path)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	check_number(path, size);
	for (size_t i = 0; i < api_route_count; i++) {
		char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX + 1];
		size_t n;
		if (!http_route_match(api_routes[i].pattern, path, params, &n))
			continue;
		if (n > HTTP_MAX_PARAMS)
			abort();
		for (size_t k = 0; k < n; k++) {
			size_t len = strlen(params[k]);
			if (len == 0 || len > HTTP_PARAM_MAX || strchr(params[k], '/'))
				abort();
		}
		char back[4096 + 8];
		rebuild(api_routes[i].pattern, params, back, sizeof(back));
		if (strcmp(back, path) != 0)
			abort();
	}
	free(path);
	return 0;
}
