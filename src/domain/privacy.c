/*
 * privacy.c — data-subject requests (see privacy.h).
 */
#include "privacy.h"

#include <stdio.h>

#include "core/db.h"

/* Open means the person is still owed something: a deletion not yet completed, rejected or
 * cancelled; an export not yet ready (a failed one is still owed). */
static const char *const sql_deadlines =
        "SELECT kind || ':' || id, to_char(due AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "       CASE WHEN due < now() THEN 'overdue' ELSE 'due_soon' END"
        "  FROM (SELECT 'deletion_request' AS kind, id, coalesce(extended_due_at, due_at) AS due"
        "          FROM public.deletion_requests"
        "         WHERE status IN ('requested', 'verified', 'scheduled', 'running')"
        "        UNION ALL"
        "        SELECT 'data_export', id, due_at FROM public.data_exports"
        "         WHERE status IN ('requested', 'running', 'failed')) r"
        " WHERE due < now() + make_interval(days => $1::integer)"
        " ORDER BY due, kind, id";

int privacy_deadlines(PGconn *conn, json_t *items, struct sk_err *err)
{
	char days[8];
	snprintf(days, sizeof(days), "%d", PRIVACY_DUE_SOON_DAYS);
	const char *params[] = {days};
	PGresult *res = db_query(conn, sql_deadlines, 1, params, err);
	if (!res)
		return -1;
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(
		        items, json_pack("{s:s, s:s, s:s}", "problem", PQgetvalue(res, i, 2), "id",
		                         PQgetvalue(res, i, 0), "due", PQgetvalue(res, i, 1)));
	PQclear(res);
	return 0;
}
