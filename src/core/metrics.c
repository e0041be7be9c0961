/*
 * metrics.c — counters (see metrics.h). Written here rather than with a client library:
 * Debian ships no C Prometheus client, and a handful of counters in the text format is a
 * few lines.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct series {
	const char *name, *help, *label, *value;
	unsigned long long count;
};

static struct series table[METRICS_MAX_SERIES];
static size_t nseries;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

void metrics_count(const char *name, const char *help, const char *label, const char *value)
{
	pthread_mutex_lock(&lock);
	size_t i = 0;
	while (i < nseries && !(same(table[i].name, name) && same(table[i].label, label) &&
	                        same(table[i].value, value)))
		i++;
	if (i == nseries && nseries < METRICS_MAX_SERIES)
		table[nseries++] = (struct series){name, help, label, value, 0};
	if (i < nseries)
		table[i].count++;
	pthread_mutex_unlock(&lock);
}

char *metrics_render(void)
{
	struct buf b = {0};
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nseries; i++) {
		bool first = true; /* HELP and TYPE once per name */
		for (size_t k = 0; k < i && first; k++)
			first = !same(table[k].name, table[i].name);
		if (first)
			buf_printf(&b, "# HELP %s %s\n# TYPE %s counter\n", table[i].name,
			           table[i].help, table[i].name);
		if (table[i].label)
			buf_printf(&b, "%s{%s=\"%s\"} %llu\n", table[i].name, table[i].label,
			           table[i].value, table[i].count);
		else
			buf_printf(&b, "%s %llu\n", table[i].name, table[i].count);
	}
	pthread_mutex_unlock(&lock);
	return buf_take(&b);
}
