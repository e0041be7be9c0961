/*
 * audit.c — appending to the operator's trail.
 */
#include "audit.h"

#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/db.h"

bool audit_actor_valid(const char *actor)
{
	size_t n = actor ? strlen(actor) : 0;
	if (n == 0 || n > 80 ||
	    !(islower((unsigned char)actor[0]) || isdigit((unsigned char)actor[0])))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = actor[i];
		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || strchr("._:-", c)))
			return false;
	}
	return true;
}

void audit_default_actor(char *out, size_t len)
{
	const char *name = config_env("SCROLLKEEP_OPERATOR");
	if (!name) {
		struct passwd *pw = getpwuid(getuid());
		name = pw ? pw->pw_name : NULL;
	}
	size_t o = 0;
	for (const char *p = name ? name : ""; *p && o + 1 < len && o < 80; p++) {
		char c = (char)tolower((unsigned char)*p);
		if (isalnum((unsigned char)c) || strchr("._:-", c))
			out[o++] = c;
	}
	out[o] = '\0';
	if (!audit_actor_valid(out))
		snprintf(out, len, "operator");
}

static const char *const sql_append =
        "INSERT INTO public.admin_audit_events (actor, actor_role, action, subject_type, subject_id,"
        " reason, details) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::jsonb, '{}'::jsonb))";

int audit_append(PGconn *conn, const struct audit_event *ev, struct sk_err *err)
{
	if (!audit_actor_valid(ev->actor))
		return err_set(
		        err, PROBLEM_INVALID_BODY,
		        "actor must be a handle: lower-case letters, digits, . _ : - (not an e-mail)");
	char *details = ev->details ? json_dumps(ev->details, JSON_COMPACT) : NULL;
	const char *params[] = {ev->actor,      ev->actor_role, ev->action, ev->subject_type,
	                        ev->subject_id, ev->reason,     details};
	int rc = db_exec(conn, sql_append, 7, params, err);
	free(details);
	if (rc < 0 && err && strcmp(err->sqlstate, "23514") == 0)
		err_set(err, PROBLEM_INVALID_BODY,
		        "the audit trail refused the reason (an e-mail address, or over 500 characters)");
	return rc;
}
