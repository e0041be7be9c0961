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

/* noun.verb: ^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$, at most 80 characters. */
bool audit_action_valid(const char *action)
{
	size_t n = action ? strlen(action) : 0;
	if (n == 0 || n > 80 || !strchr(action, '.'))
		return false;
	bool word_start = true;
	for (size_t i = 0; i < n; i++) {
		char c = action[i];
		if (c == '.') {
			if (word_start)
				return false;
			word_start = true;
		} else if (word_start ? islower((unsigned char)c)
		                      : islower((unsigned char)c) || isdigit((unsigned char)c) ||
		                                c == '_') {
			word_start = false;
		} else {
			return false;
		}
	}
	return !word_start;
}

static const char *const sql_list =
        "SELECT json_build_object('events', coalesce(json_agg(json_build_object("
        "         'seq', e.chain_seq, 'id', e.id, 'occurred_at', e.occurred_at, 'actor', e.actor,"
        "         'actor_role', e.actor_role, 'action', e.action, 'subject_type', e.subject_type,"
        "         'subject_id', e.subject_id, 'reason', e.reason, 'details', e.details,"
        "         'row_hash', e.row_hash) ORDER BY e.chain_seq), '[]'))"
        "  FROM (SELECT * FROM public.admin_audit_events"
        "         WHERE ($1::bigint IS NULL OR chain_seq < $1)"
        "           AND ($2::bigint IS NULL OR chain_seq > $2)"
        "           AND ($3::text IS NULL OR action = $3)"
        "         ORDER BY CASE WHEN $2::bigint IS NULL THEN -chain_seq ELSE chain_seq END"
        "         LIMIT $4) e";

json_t *audit_list(PGconn *conn, const struct audit_filter *f, struct sk_err *err)
{
	if (f->before < 0 || f->after < 0 || f->limit < 1 || f->limit > 1000 ||
	    (f->action && !audit_action_valid(f->action))) {
		err_set(err, PROBLEM_BAD_REQUEST,
		        "limit must be 1 to 1000, before and after positive sequence numbers, and "
		        "action a noun.verb");
		return NULL;
	}
	char before[24], after[24], limit[16];
	snprintf(before, sizeof(before), "%lld", f->before);
	snprintf(after, sizeof(after), "%lld", f->after);
	snprintf(limit, sizeof(limit), "%d", f->limit);
	const char *params[] = {f->before ? before : NULL, f->after ? after : NULL, f->action,
	                        limit};
	return db_query_json(conn, sql_list, 4, params, err);
}

int audit_chain_check(PGconn *conn, struct audit_chain *out, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	PGresult *res =
	        db_query(conn, "SELECT * FROM scrollkeep.audit_chain_check()", 0, NULL, err);
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return err_set(err, PROBLEM_INTERNAL, "the chain check gave no answer");
	}
	out->rows = atoll(PQgetvalue(res, 0, 0));
	out->head_seq = atoll(PQgetvalue(res, 0, 1));
	snprintf(out->head_hash, sizeof(out->head_hash), "%s", PQgetvalue(res, 0, 2));
	out->broken_seq = atoll(PQgetvalue(res, 0, 3));
	out->broken_id = atoll(PQgetvalue(res, 0, 4));
	snprintf(out->problem, sizeof(out->problem), "%s", PQgetvalue(res, 0, 5));
	PQclear(res);
	return 0;
}

int audit_flush(PGconn *conn, int *moved, struct sk_err *err)
{
	*moved = 0;
	for (;;) {
		PGresult *res = db_query(conn, "SELECT scrollkeep.audit_flush(1000)", 0, NULL, err);
		if (!res)
			return -1;
		int n = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
		*moved += n;
		if (n == 0) /* a call moves up to 1000 single events and 15 statements' batches */
			return 0;
	}
}
