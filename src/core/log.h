/*
 * log.h — logs are events: one JSON line each on stderr,
 *   {"ts":"…","level":"info","event":"http_request","request_id":"…",…}
 *
 * A log call takes typed fields, never a free-form message. Field keys come from an
 * allow-list in log.c (ids, counts, states, codes): a key that is not listed is logged with
 * its value replaced by "[unlisted]" and trips an assert in debug builds. Adding a key is a
 * reviewed change to that list, which is where personal data would have to slip in.
 */
#ifndef SK_LOG_H
#define SK_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

enum log_kind { LOG_KIND_END = 0, LOG_KIND_STR, LOG_KIND_INT, LOG_KIND_BOOL, LOG_KIND_DOUBLE };

struct log_field {
	const char *key;
	enum log_kind kind;
	const char *s;
	long long i;
	double d;
};

#define LF_STR(k, v)    ((struct log_field){.key = (k), .kind = LOG_KIND_STR, .s = (v)})
#define LF_INT(k, v)    ((struct log_field){.key = (k), .kind = LOG_KIND_INT, .i = (long long)(v)})
#define LF_BOOL(k, v)   ((struct log_field){.key = (k), .kind = LOG_KIND_BOOL, .i = (v) ? 1 : 0})
#define LF_DOUBLE(k, v) ((struct log_field){.key = (k), .kind = LOG_KIND_DOUBLE, .d = (double)(v)})
#define LF_END          ((struct log_field){.key = NULL, .kind = LOG_KIND_END})

/* Write one event. fields ends with LF_END. Thread-safe; never fails loudly. */
void log_emit(enum log_level level, const char *event, const struct log_field *fields);

#define log_debug(event, ...)                                                                      \
	log_emit(LOG_DEBUG, (event), (const struct log_field[]){__VA_ARGS__, LF_END})
#define log_info(event, ...)                                                                       \
	log_emit(LOG_INFO, (event), (const struct log_field[]){__VA_ARGS__, LF_END})
#define log_warn(event, ...)                                                                       \
	log_emit(LOG_WARN, (event), (const struct log_field[]){__VA_ARGS__, LF_END})
#define log_error(event, ...)                                                                      \
	log_emit(LOG_ERROR, (event), (const struct log_field[]){__VA_ARGS__, LF_END})

/* Set once at start-up: the minimum level written and where (stderr by default). */
void log_configure(enum log_level min_level, FILE *out);

/* Whether key is on the allow-list (for tests and for code that builds fields dynamically). */
bool log_key_allowed(const char *key);

/* The allow-list itself, sorted (for tests and docs). */
const char *const *log_allowed_keys(size_t *count);

#endif
