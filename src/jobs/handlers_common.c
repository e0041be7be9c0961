/*
 * handlers_common.c — helpers every handler uses (see handlers_common.h).
 */
#include "handlers_common.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "core/json.h"

bool job_payload_uuid(const struct queue_job *job, const char *key, char out[37])
{
	json_error_t jerr;
	json_t *p = json_loads(job->payload ? job->payload : "{}", 0, &jerr);
	const char *v = json_str(p, key);
	bool ok = v && json_is_uuid(v);
	if (ok) {
		for (int i = 0; i < 36; i++)
			out[i] = (char)tolower((unsigned char)v[i]);
		out[36] = '\0';
	}
	json_decref(p);
	return ok;
}

void job_fail(struct queue_result *r, enum job_outcome outcome, const char *why)
{
	r->outcome = outcome;
	snprintf(r->error, sizeof(r->error), "%s", why);
}

void site_link(const struct config *cfg, char *out, size_t len, const char *path)
{
	const char *site = cfg->site_url ? cfg->site_url : "";
	size_t n = strlen(site);
	while (n > 0 && site[n - 1] == '/')
		n--;
	snprintf(out, len, "%.*s%s", (int)n, site, path);
}

bool job_open_artifact(struct job_env *env, const struct queue_job *job, bool with_private,
                       char id[37], struct artifact_doc *doc, struct queue_result *r)
{
	struct sk_err err;
	if (!job_payload_uuid(job, "artifact_id", id)) {
		job_fail(r, JOB_PERMANENT, "the payload names no artifact");
		return false;
	}
	if (!env->conn || db_exec(env->conn, "BEGIN", 0, NULL, &err) < 0) {
		job_fail(r, JOB_TRANSIENT, "the database is unavailable");
		return false;
	}
	if (artifact_load_doc(env->conn, id, with_private, true, doc, &err) < 0) {
		db_rollback(env->conn);
		bool gone = err.problem == PROBLEM_NOT_FOUND;
		job_fail(r, gone ? JOB_PERMANENT : JOB_TRANSIENT,
		         gone ? "the artifact or its reading is gone" : "cannot load the artifact");
		return false;
	}
	return true;
}

bool job_consent_granted(struct job_env *env, const char *user_id, const char *purpose)
{
	const char *params[] = {user_id, purpose};
	struct sk_err err;
	PGresult *res = db_query(env->conn, "SELECT scrollkeep.consent_state($1::uuid, $2)", 2,
	                         params, &err);
	bool granted = res && strcmp(PQgetvalue(res, 0, 0), "granted") == 0;
	PQclear(res);
	return granted;
}
