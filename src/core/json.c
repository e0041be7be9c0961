/*
 * json.c — strict request bodies on top of jansson.
 */
#include "json.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_json_media_type(const char *ct)
{
	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, "application/json", 16) != 0)
		return false;
	const char *rest = ct + 16;
	while (*rest == ' ')
		rest++;
	if (*rest == '\0')
		return true;
	if (*rest != ';')
		return false;
	/* Only a charset parameter, and only UTF-8, is accepted. */
	rest++;
	while (*rest == ' ')
		rest++;
	return strcasecmp(rest, "charset=utf-8") == 0 || strcasecmp(rest, "charset=\"utf-8\"") == 0;
}

json_t *json_parse_body(const char *content_type, const char *body, size_t len, struct sk_err *err)
{
	if (!is_json_media_type(content_type)) {
		err_set(err, PROBLEM_UNSUPPORTED_MEDIA, "send Content-Type: application/json");
		return NULL;
	}
	if (!body || len == 0) {
		err_set(err, PROBLEM_INVALID_JSON, "the body is empty");
		return NULL;
	}
	json_error_t jerr;
	/* jansson refuses invalid UTF-8 and \u0000; duplicate keys are refused too, so two
	 * readers can never disagree about what a body said. */
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		err_set(err, PROBLEM_INVALID_JSON,
		        "the body is not valid JSON (line %d, column %d)", jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		err_set(err, PROBLEM_INVALID_BODY, "the body must be a JSON object");
		return NULL;
	}
	return root;
}

size_t json_utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

bool json_has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)
			return true;
	}
	return false;
}

bool json_is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool json_is_timestamp(const char *s)
{
	/* YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM) */
	size_t n = strlen(s);
	if (n < 20 || n > 35)
		return false;
	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' ||
	    !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
		return false;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		const char *f = p;
		while (isdigit((unsigned char)*p))
			p++;
		if (p == f || p - f > 6)
			return false;
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	return (*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) &&
	       p[6] == '\0';
}

const char *json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static const struct json_field *find_field(const struct json_field *fields, size_t n,
                                           const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

/* A client's key is echoed back only when it is an identifier: it is their own input, but a
 * problem detail should not become a place to reflect arbitrary text. */
static const char *printable_key(const char *key)
{
	size_t n = strlen(key);
	if (n == 0 || n > 64)
		return "(unnamed)";
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)key[i]) && key[i] != '_')
			return "(unnamed)";
	return key;
}

static int check_string(const json_t *v, const struct json_field *f, const char *where,
                        struct sk_err *err)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (f->type == JSON_FIELD_UUID)
		return json_is_uuid(s) ? 0
		                       : err_set(err, PROBLEM_INVALID_BODY, "%s%s must be a UUID",
		                                 where, f->name);
	if (f->type == JSON_FIELD_TIMESTAMP)
		return json_is_timestamp(s)
		               ? 0
		               : err_set(err, PROBLEM_INVALID_BODY,
		                         "%s%s must be an RFC 3339 timestamp with a time zone",
		                         where, f->name);
	size_t chars = json_utf8_chars(s, len);
	if ((long long)chars < f->min || (long long)chars > f->max)
		return err_set(err, PROBLEM_INVALID_BODY, "%s%s must have %lld to %lld characters",
		               where, f->name, f->min, f->max);
	if (json_has_control(s, len))
		return err_set(err, PROBLEM_INVALID_BODY, "%s%s holds a control character", where,
		               f->name);
	if (f->allowed) {
		for (const char *const *a = f->allowed; *a; a++)
			if (strcmp(*a, s) == 0)
				return 0;
		return err_set(err, PROBLEM_INVALID_BODY, "%s%s is not one of the allowed values",
		               where, f->name);
	}
	return 0;
}

static int check_value(const json_t *v, const struct json_field *f, const char *where,
                       struct sk_err *err)
{
	switch (f->type) {
	case JSON_FIELD_STRING:
	case JSON_FIELD_UUID:
	case JSON_FIELD_TIMESTAMP:
		if (!json_is_string(v))
			return err_set(err, PROBLEM_INVALID_BODY, "%s%s must be a string", where,
			               f->name);
		return check_string(v, f, where, err);
	case JSON_FIELD_BOOL:
		if (!json_is_boolean(v))
			return err_set(err, PROBLEM_INVALID_BODY, "%s%s must be true or false",
			               where, f->name);
		return 0;
	case JSON_FIELD_INT:
		if (!json_is_integer(v) || json_integer_value(v) < f->min ||
		    json_integer_value(v) > f->max)
			return err_set(err, PROBLEM_INVALID_BODY,
			               "%s%s must be an integer from %lld to %lld", where, f->name,
			               f->min, f->max);
		return 0;
	case JSON_FIELD_OBJECT:
		if (!json_is_object(v))
			return err_set(err, PROBLEM_INVALID_BODY, "%s%s must be an object", where,
			               f->name);
		return 0;
	case JSON_FIELD_ARRAY:
		if (!json_is_array(v) || (long long)json_array_size(v) < f->min ||
		    (long long)json_array_size(v) > f->max)
			return err_set(err, PROBLEM_INVALID_BODY,
			               "%s%s must be an array of %lld to %lld items", where,
			               f->name, f->min, f->max);
		return 0;
	}
	return err_set(err, PROBLEM_INTERNAL, "unknown field type");
}

int json_check_fields(const json_t *obj, const struct json_field *fields, size_t nfields,
                      const char *where, struct sk_err *err)
{
	if (!json_is_object(obj))
		return err_set(err, PROBLEM_INVALID_BODY, "%s must be an object",
		               where && *where ? where : "the body");
	const char *prefix = where ? where : "";
	const char *key;
	const json_t *value;
	json_object_foreach((json_t *)obj, key, value)
	{
		const struct json_field *f = find_field(fields, nfields, key);
		if (!f)
			return err_set(err, PROBLEM_INVALID_BODY, "%sunknown field %s", prefix,
			               printable_key(key));
		if (json_is_null(value) && !f->required)
			continue; /* an optional field may be sent as null */
		if (check_value(value, f, prefix, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < nfields; i++) {
		const json_t *v = json_object_get(obj, fields[i].name);
		if (fields[i].required && (!v || json_is_null(v)))
			return err_set(err, PROBLEM_INVALID_BODY, "%s%s is required", prefix,
			               fields[i].name);
	}
	return 0;
}
