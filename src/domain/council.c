/*
 * council.c — recording Council sessions.
 */
#include "council.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
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
bool council_voice_name_ok(const char *s)
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
		if (!council_voice_name_ok(json_str(voice, "voice")))
			return err_set(
			        err, PROBLEM_INVALID_BODY,
			        "voices[%zu].voice must be a name (letters, digits, space, . _ -)",
			        i);
	}
	return 0;
}

int council_check_reading(PGconn *conn, const char *user_id, const char *reading_id,
                          struct sk_err *err)
{
	const char *check[] = {reading_id, user_id};
	PGresult *res =
	        db_query(conn, "SELECT 1 FROM public.readings WHERE id = $1 AND user_id = $2", 2,
	                 check, err);
	if (!res)
		return -1;
	int visible = PQntuples(res);
	PQclear(res);
	return visible ? 0 : err_set(err, PROBLEM_NOT_FOUND, "no such reading");
}

json_t *council_store(PGconn *conn, const char *user_id, const char *reading_id,
                      const char *const *names, const char *const *bodies, size_t n,
                      enum db_role writer, char (*voice_ids)[37], struct sk_err *err)
{
	if (db_set_role(conn, DB_ROLE_SERVICE, err) < 0)
		return NULL;
	const char *params[] = {user_id, reading_id};
	PGresult *res = db_query(conn,
	                         "INSERT INTO public.council_sessions (user_id, reading_id)"
	                         " VALUES ($1, $2) RETURNING id",
	                         2, params, err);
	if (!res)
		return NULL;
	char id[37];
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (db_set_role(conn, writer, err) < 0)
		return NULL;
	json_t *voices = json_array();
	for (size_t i = 0; i < n; i++) {
		char voice_id[37], position[24];
		snprintf(position, sizeof(position), "%zu", i + 1);
		const char *vp[] = {voice_id, id, position, names[i], bodies[i]};
		if (crypto_uuid_v4(voice_id) < 0 ||
		    db_exec(conn,
		            "INSERT INTO public.council_voices (id, session_id, position, voice, body)"
		            " VALUES ($1, $2, $3, $4, $5)",
		            5, vp, err) < 0) {
			if (err->problem == PROBLEM_NONE)
				err_set(err, PROBLEM_INTERNAL, "no randomness");
			json_decref(voices);
			return NULL;
		}
		if (voice_ids)
			memcpy(voice_ids[i], voice_id, sizeof(voice_id));
		json_array_append_new(
		        voices, json_pack("{s:i, s:s}", "position", (int)i + 1, "voice", names[i]));
	}
	if (db_set_role(conn, DB_ROLE_SERVICE, err) < 0) {
		json_decref(voices);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:s, s:o}", "id", id, "reading_id", reading_id, "status",
	                 "recorded", "voices", voices);
}

json_t *council_record(PGconn *conn, const char *user_id, const json_t *body, struct sk_err *err)
{
	const char *reading_id = json_str(body, "reading_id");
	if (council_check_reading(conn, user_id, reading_id, err) < 0)
		return NULL;
	const json_t *voices = json_object_get(body, "voices");
	size_t n = json_array_size(voices);
	const char *names[12], *bodies[12];
	for (size_t i = 0; i < n && i < 12; i++) {
		names[i] = json_str(json_array_get(voices, i), "voice");
		bodies[i] = json_str(json_array_get(voices, i), "body");
	}
	return council_store(conn, user_id, reading_id, names, bodies, n < 12 ? n : 12,
	                     DB_ROLE_SERVICE, NULL, err);
}
