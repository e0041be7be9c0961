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
	const char *name, *help;
	const char *labels[METRICS_MAX_LABELS], *values[METRICS_MAX_LABELS];
	size_t nlabels;
	unsigned long long count;
};

static struct series table[METRICS_MAX_SERIES];
static size_t nseries;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_series(const struct series *s, const char *name, size_t n,
                        const char *const *labels, const char *const *values)
{
	if (!same(s->name, name) || s->nlabels != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!same(s->labels[i], labels[i]) || !same(s->values[i], values[i]))
			return false;
	return true;
}

void metrics_count_labels(const char *name, const char *help, size_t n, const char *const *labels,
                          const char *const *values)
{
	if (n > METRICS_MAX_LABELS)
		return;
	pthread_mutex_lock(&lock);
	size_t i = 0;
	while (i < nseries && !same_series(&table[i], name, n, labels, values))
		i++;
	if (i == nseries && nseries < METRICS_MAX_SERIES) {
		struct series *s = &table[nseries++];
		*s = (struct series){.name = name, .help = help, .nlabels = n};
		for (size_t k = 0; k < n; k++) {
			s->labels[k] = labels[k];
			s->values[k] = values[k];
		}
	}
	if (i < nseries)
		table[i].count++;
	pthread_mutex_unlock(&lock);
}

void metrics_count(const char *name, const char *help, const char *label, const char *value)
{
	const char *labels[] = {label}, *values[] = {value};
	metrics_count_labels(name, help, label ? 1 : 0, labels, values);
}

const char *metrics_status_label(int status)
{
	static const char *const codes[] = {"200", "201", "202", "204", "206", "301", "302", "304",
	                                    "400", "401", "403", "404", "405", "409", "413", "415",
	                                    "422", "429", "500", "502", "503", "504"};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (atoi(codes[i]) == status)
			return codes[i];
	return "other";
}

static void render_series(struct buf *b, const struct series *s)
{
	buf_puts(b, s->name);
	for (size_t k = 0; k < s->nlabels; k++)
		buf_printf(b, "%s%s=\"%s\"", k ? "," : "{", s->labels[k], s->values[k]);
	buf_printf(b, "%s %llu\n", s->nlabels ? "}" : "", s->count);
}

/* Each family once, with its series together (the text format wants them grouped), in the
 * order the families first counted. */
char *metrics_render(void)
{
	struct buf b = {0};
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nseries; i++) {
		bool first = true;
		for (size_t k = 0; k < i && first; k++)
			first = !same(table[k].name, table[i].name);
		if (!first)
			continue;
		buf_printf(&b, "# HELP %s %s\n# TYPE %s counter\n", table[i].name, table[i].help,
		           table[i].name);
		for (size_t k = i; k < nseries; k++)
			if (same(table[k].name, table[i].name))
				render_series(&b, &table[k]);
	}
	pthread_mutex_unlock(&lock);
	return buf_take(&b);
}
