/*
 * log.c — the JSON-line logger and its allow-list of field keys.
 *
 * Lines are written with yajl's generator, which escapes and checks UTF-8 as it writes,
 * without building a document first (jansson's tree cost an allocation per field: a fifth of
 * the webhook's CPU in the server went to its access-log line), and each goes out whole in one
 * write (write_line), so lines from different threads never interleave.
 */
#include "log.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl_gen.h>

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

static void put_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

/* A string value; one that is not UTF-8 is replaced by a marker rather than lose the line. */
static void put_text(yajl_gen g, const char *s)
{
	if (yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_invalid_string)
		put_str(g, "[invalid-utf8]");
}

/* A double as jansson printed it (six significant digits, always with a point or an
 * exponent); null when it is not finite, which JSON cannot hold. */
static void put_double(yajl_gen g, double d)
{
	if (!isfinite(d)) {
		yajl_gen_null(g);
		return;
	}
	char num[40];
	int n = snprintf(num, sizeof(num), "%.6g", d);
	if (n > 0 && (size_t)n < sizeof(num) - 2 && !strpbrk(num, ".e")) {
		memcpy(num + n, ".0", 3);
		n += 2;
	}
	yajl_gen_number(g, num, (size_t)n);
}

static void put_field(yajl_gen g, const struct log_field *f)
{
	put_str(g, f->key);
	if (!log_key_allowed(f->key)) {
		assert(!"log field key is not on the allow-list in log.c");
		put_str(g, "[unlisted]");
		return;
	}
	switch (f->kind) {
	case LOG_KIND_STR:
		if (f->s)
			put_text(g, f->s);
		else
			yajl_gen_null(g);
		break;
	case LOG_KIND_INT:
		yajl_gen_integer(g, f->i);
		break;
	case LOG_KIND_BOOL:
		yajl_gen_bool(g, f->i != 0);
		break;
	case LOG_KIND_DOUBLE:
		put_double(g, f->d);
		break;
	default:
		yajl_gen_null(g);
	}
}

/* Write one line. A line of at most PIPE_BUF bytes goes out in one write(2), which the kernel
 * keeps whole (a pipe's write of that size is atomic; a shared file's position is locked per
 * write), so threads need not queue on a lock for it; a longer one is written under the lock. */
static void write_line(FILE *out, const unsigned char *text, size_t len)
{
	char line[PIPE_BUF];
	if (len + 1 <= sizeof(line)) {
		memcpy(line, text, len);
		line[len] = '\n';
		(void)!write(fileno(out), line, len + 1); /* a lost log line is not an error */
		return;
	}
	pthread_mutex_lock(&log_lock);
	fwrite(text, 1, len, out);
	fputc('\n', out);
	fflush(out);
	pthread_mutex_unlock(&log_lock);
}

void log_emit(enum log_level level, const char *event, const struct log_field *fields)
{
	if (level < log_min)
		return;
	char ts[40];
	format_now(ts, sizeof(ts));
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g)
		return;
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	yajl_gen_map_open(g);
	put_str(g, "ts");
	put_str(g, ts);
	put_str(g, "level");
	put_str(g, level_name(level));
	put_str(g, "event");
	put_text(g, event);
	for (const struct log_field *f = fields; f && f->key; f++)
		put_field(g, f);
	yajl_gen_map_close(g);
	const unsigned char *text;
	size_t len;
	if (yajl_gen_get_buf(g, &text, &len) == yajl_gen_status_ok)
		write_line(log_out ? log_out : stderr, text, len);
	yajl_gen_free(g);
}
