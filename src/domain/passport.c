/*
 * passport.c — the Passport view, built in one statement.
 */
#include "passport.h"

#include <stdlib.h>

#include "core/db.h"

static const char *const sql_passport =
        "SELECT json_build_object("
        "  'passport', (SELECT json_build_object('opened_at', p.created_at, 'updated_at', p.updated_at)"
        "                 FROM public.passports p WHERE p.user_id = $1),"
        "  'readings', coalesce((SELECT json_agg(r ORDER BY r.sealed_at DESC) FROM ("
        "      SELECT id, public_title, public_line, product_code, sealed_at"
        "        FROM public.readings WHERE user_id = $1 ORDER BY sealed_at DESC LIMIT 200) r), '[]'),"
        "  'stamps', coalesce((SELECT json_agg(s ORDER BY s.stamped_at DESC) FROM ("
        "      SELECT id, kind, label, reading_id, stamped_at"
        "        FROM public.passport_stamps WHERE user_id = $1 ORDER BY stamped_at DESC LIMIT 200) s), '[]'))";

json_t *passport_get(PGconn *conn, const char *user_id, struct sk_err *err)
{
	const char *params[] = {user_id};
	PGresult *res = db_query(conn, sql_passport, 1, params, err);
	if (!res)
		return NULL;
	json_error_t jerr;
	json_t *out = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	PQclear(res);
	if (!out)
		err_set(err, PROBLEM_INTERNAL, "the database returned no JSON");
	return out;
}
