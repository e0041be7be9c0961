/*
 * log.c — the JSON-line logger and its allow-list of field keys.
 *
 * Lines are built with jansson (escaping handled by a maintained library) and written with a
 * single fputs under a mutex, so lines from different threads never interleave.
 */
#include "log.h"

#include <assert.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* Keys a log line may carry. Values are ids, counts, states, codes and durations: nothing
 * a person typed, no address, no secret. Keep the list sorted; review every addition. */
static const char *const allowed_keys[] = {
        "applied",  "attempt",    "attempts",    "bytes_in",    "bytes_out",   "code",
        "column",   "constraint", "count",       "database",    "duration_ms", "error_code",
        "expected", "expired",    "held",        "job_id",      "jobs",        "kind",
        "limit",    "listen",     "method",      "migration",   "pending",     "pool_size",
        "problem",  "reaped",     "reason_code", "request_id",  "role",        "route",
        "signal",   "sqlstate",   "status",      "support_ref", "table",       "threads",
        "url",      "version",    "worker",
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level log_min = LOG_INFO;
static FILE *log_out;

void log_configure(enum log_level min_level, FILE *out)
{
	log_min = min_level;
	log_out = out;
}

const char *const *log_allowed_keys(size_t *count)
{
	*count = sizeof(allowed_keys) / sizeof(allowed_keys[0]);
	return allowed_keys;
}

bool log_key_allowed(const char *key)
{
	size_t lo = 0, hi = sizeof(allowed_keys) / sizeof(allowed_keys[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(key, allowed_keys[mid]);
		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_DEBUG:
		return "debug";
	case LOG_INFO:
		return "info";
	case LOG_WARN:
		return "warn";
	default:
		return "error";
	}
}

static void format_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static json_t *field_value(const struct log_field *f)
{
	if (!log_key_allowed(f->key)) {
		assert(!"log field key is not on the allow-list in log.c");
		return json_string("[unlisted]");
	}
	switch (f->kind) {
	case LOG_KIND_STR: {
		if (!f->s)
			return json_null();
		/* json_string refuses invalid UTF-8; log a marker rather than lose the line. */
		json_t *v = json_string(f->s);
		return v ? v : json_string("[invalid-utf8]");
	}
	case LOG_KIND_INT:
		return json_integer(f->i);
	case LOG_KIND_BOOL:
		return json_boolean(f->i);
	case LOG_KIND_DOUBLE:
		return json_real(f->d);
	default:
		return json_null();
	}
}

void log_emit(enum log_level level, const char *event, const struct log_field *fields)
{
	if (level < log_min)
		return;
	char ts[40];
	format_now(ts, sizeof(ts));
	json_t *line = json_object();
	if (!line)
		return;
	json_object_set_new(line, "ts", json_string(ts));
	json_object_set_new(line, "level", json_string(level_name(level)));
	json_object_set_new(line, "event", json_string(event));
	for (const struct log_field *f = fields; f && f->key; f++)
		json_object_set_new(line, f->key, field_value(f));
	char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(line);
	if (!text)
		return;
	pthread_mutex_lock(&log_lock);
	FILE *out = log_out ? log_out : stderr;
	fputs(text, out);
	fputc('\n', out);
	fflush(out);
	pthread_mutex_unlock(&log_lock);
	free(text);
}
