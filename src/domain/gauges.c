/*
 * gauges.c — the database's gauges for /metrics (see gauges.h).
 */
#include "gauges.h"

#include <stdbool.h>
#include <string.h>

#include "core/db.h"

static const char *const sql_jobs =
        "SELECT kind, status, count(*) FROM public.delivery_jobs GROUP BY kind, status"
        " ORDER BY kind, status";

static const char *const sql_ages =
        "SELECT coalesce(extract(epoch FROM now() - min(next_run_at)"
        "                FILTER (WHERE status = 'queued' AND next_run_at <= now())), 0)::bigint,"
        "       coalesce(extract(epoch FROM now() - min(updated_at)"
        "                FILTER (WHERE status = 'unknown')), 0)::bigint,"
        "       (SELECT coalesce(extract(epoch FROM max(occurred_at)), 0)::bigint"
        "          FROM public.admin_audit_events WHERE action = 'backup.completed'),"
        "       (SELECT coalesce(extract(epoch FROM max(occurred_at)), 0)::bigint"
        "          FROM public.admin_audit_events WHERE action = 'restore.drill_passed'),"
        "       (SELECT count(*) FROM public.deletion_requests"
        "         WHERE status IN ('requested', 'verified', 'scheduled', 'running')),"
        "       (SELECT count(*) FROM public.deletion_requests"
        "         WHERE status IN ('requested', 'verified', 'scheduled', 'running')"
        "           AND coalesce(extended_due_at, due_at) < now())"
        "  FROM public.delivery_jobs WHERE status IN ('queued', 'unknown')";

static bool label_safe(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static void gauge(struct buf *out, const char *name, const char *help, const char *value)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, value);
}

int gauges_render(PGconn *conn, struct buf *out, struct sk_err *err)
{
	PGresult *jobs = db_query(conn, sql_jobs, 0, NULL, err);
	if (!jobs)
		return -1;
	PGresult *ages = db_query(conn, sql_ages, 0, NULL, err);
	if (!ages) {
		PQclear(jobs);
		return -1;
	}
	buf_puts(out, "# HELP scrollkeep_jobs delivery jobs by kind and status\n"
	              "# TYPE scrollkeep_jobs gauge\n");
	for (int i = 0; i < PQntuples(jobs); i++)
		if (label_safe(PQgetvalue(jobs, i, 0)) && label_safe(PQgetvalue(jobs, i, 1)))
			buf_printf(out, "scrollkeep_jobs{kind=\"%s\",status=\"%s\"} %s\n",
			           PQgetvalue(jobs, i, 0), PQgetvalue(jobs, i, 1),
			           PQgetvalue(jobs, i, 2));
	gauge(out, "scrollkeep_queue_oldest_ready_seconds", "age of the oldest job ready to run",
	      PQgetvalue(ages, 0, 0));
	gauge(out, "scrollkeep_jobs_oldest_unknown_seconds",
	      "age of the oldest job whose outcome is unknown (an operator must look)",
	      PQgetvalue(ages, 0, 1));
	gauge(out, "scrollkeep_last_backup_timestamp_seconds",
	      "when the last backup completed (0: never)", PQgetvalue(ages, 0, 2));
	gauge(out, "scrollkeep_last_drill_passed_timestamp_seconds",
	      "when a restore drill last passed (0: never)", PQgetvalue(ages, 0, 3));
	gauge(out, "scrollkeep_deletion_requests_pending", "deletion requests not yet completed",
	      PQgetvalue(ages, 0, 4));
	gauge(out, "scrollkeep_deletion_requests_overdue", "deletion requests past their due date",
	      PQgetvalue(ages, 0, 5));
	PQclear(jobs);
	PQclear(ages);
	return 0;
}
