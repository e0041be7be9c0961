/*
 * json.h — request bodies: strict parsing with jansson and a small declarative validator.
 *
 * A body must be application/json, valid UTF-8, an object, without duplicate keys. A route
 * declares its fields (type, required, length bounds in characters, allowed values); any
 * field it does not declare is refused, so a typo is an error instead of silently ignored
 * data. Text from people may hold tab, newline and carriage return but no other control
 * character (they have no place in a question and would only complicate every consumer).
 */
#ifndef SK_JSON_H
#define SK_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

enum json_field_type {
	JSON_FIELD_STRING,
	JSON_FIELD_BOOL,
	JSON_FIELD_INT,
	JSON_FIELD_OBJECT,
	JSON_FIELD_ARRAY,
	JSON_FIELD_UUID,      /* a string in 8-4-4-4-12 hex form */
	JSON_FIELD_TIMESTAMP, /* an RFC 3339 string with a time zone */
};

struct json_field {
	const char *name;
	enum json_field_type type;
	bool required;
	long long min; /* strings: characters; arrays: items; ints: value */
	long long max;
	const char *const *allowed; /* strings: NULL-terminated list of allowed values, or NULL */
};

/* Parse a request body into a JSON object. Checks the Content-Type (application/json, any
 * charset parameter must be utf-8). Returns NULL with PROBLEM_UNSUPPORTED_MEDIA,
 * PROBLEM_INVALID_JSON or PROBLEM_INVALID_BODY (not an object). */
json_t *json_parse_body(const char *content_type, const char *body, size_t len, struct sk_err *err);

/* Check obj against fields: every required field present, every present field declared and
 * of the right type and bounds. Returns -1 with PROBLEM_INVALID_BODY naming the field. */
int json_check_fields(const json_t *obj, const struct json_field *fields, size_t nfields,
                      const char *where, struct sk_err *err);

/* The number of Unicode characters in a UTF-8 string. */
size_t json_utf8_chars(const char *s, size_t len);

/* Whether s holds a control character other than tab, newline and carriage return. */
bool json_has_control(const char *s, size_t len);

/* Whether s is a UUID in canonical 8-4-4-4-12 form (either case). */
bool json_is_uuid(const char *s);

/* Whether s is an RFC 3339 timestamp with seconds and a zone ("2026-11-25T10:00:00Z"). */
bool json_is_timestamp(const char *s);

/* The string member of obj, or NULL. */
const char *json_str(const json_t *obj, const char *key);

#endif
