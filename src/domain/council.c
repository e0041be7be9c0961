/*
 * council.c — recording Council sessions.
 */
#include "council.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/json.h"

static const struct json_field council_fields[] = {
        {"reading_id", JSON_FIELD_UUID, true, 36, 36, NULL},
        {"voices", JSON_FIELD_ARRAY, true, 1, 12, NULL},
};

static const struct json_field voice_fields[] = {
        {"voice", JSON_FIELD_STRING, true, 1, 40, NULL},
        {"body", JSON_FIELD_STRING, true, 1, 8000, NULL},
};

/* A voice is a persona's name: a letter, then letters, digits, space, . _ - */
static bool voice_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr(" ._-", *s)))
			return false;
	return true;
}

int council_validate(const json_t *body, struct sk_err *err)
{
	if (json_check_fields(body, council_fields,
	                      sizeof(council_fields) / sizeof(council_fields[0]), NULL, err) < 0)
		return -1;
	size_t i;
	const json_t *voice;
	json_array_foreach(json_object_get(body, "voices"), i, voice)
	{
		char where[32];
		snprintf(where, sizeof(where), "voices[%zu].", i);
		if (json_check_fields(voice, voice_fields,
		                      sizeof(voice_fields) / sizeof(voice_fields[0]), where,
		                      err) < 0)
			return -1;
		if (!voice_name_ok(json_str(voice, "voice")))
			return err_set(
			        err, PROBLEM_INVALID_BODY,
			        "voices[%zu].voice must be a name (letters, digits, space, . _ -)",
			        i);
	}
	return 0;
}

json_t *council_record(PGconn *conn, const char *user_id, const json_t *body, struct sk_err *err)
{
	const char *reading_id = json_str(body, "reading_id");
	const char *check[] = {reading_id, user_id};
	PGresult *res =
	        db_query(conn, "SELECT 1 FROM public.readings WHERE id = $1 AND user_id = $2", 2,
	                 check, err);
	if (!res)
		return NULL;
	int visible = PQntuples(res);
	PQclear(res);
	if (!visible) {
		err_set(err, PROBLEM_NOT_FOUND, "no such reading");
		return NULL;
	}
	if (db_set_role(conn, DB_ROLE_SERVICE, err) < 0)
		return NULL;
	const char *params[] = {user_id, reading_id};
	res = db_query(conn,
	               "INSERT INTO public.council_sessions (user_id, reading_id) VALUES ($1, $2)"
	               " RETURNING id, status",
	               2, params, err);
	if (!res)
		return NULL;
	char id[37], status[16];
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	snprintf(status, sizeof(status), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);

	json_t *voices = json_array();
	size_t i;
	const json_t *voice;
	json_array_foreach(json_object_get(body, "voices"), i, voice)
	{
		char position[24];
		snprintf(position, sizeof(position), "%zu", i + 1);
		const char *vp[] = {id, position, json_str(voice, "voice"),
		                    json_str(voice, "body")};
		if (db_exec(conn,
		            "INSERT INTO public.council_voices (session_id, position, voice, body)"
		            " VALUES ($1, $2, $3, $4)",
		            4, vp, err) < 0) {
			json_decref(voices);
			return NULL;
		}
		json_array_append_new(voices, json_pack("{s:i, s:s}", "position", (int)i + 1,
		                                        "voice", json_str(voice, "voice")));
	}
	return json_pack("{s:s, s:s, s:s, s:o}", "id", id, "reading_id", reading_id, "status",
	                 status, "voices", voices);
}
