/*
 * privacy.c — data-subject requests (see privacy.h).
 */
#define _GNU_SOURCE /* memmem */
#include "privacy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/db.h"
#include "core/files.h"
#include "domain/store.h"

int privacy_request_validate(const json_t *body, struct sk_err *err)
{
	if (!json_is_object(body) || json_object_size(body) != 0)
		return err_set(err, PROBLEM_INVALID_BODY, "the body is {}");
	return 0;
}

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

/* ---- the erasure key ---- */

int privacy_subject_hmac(const struct config *cfg, const char *user_id, char hex[65],
                         const char **key_id)
{
	uint8_t key[SHA256_LEN], mac[SHA256_LEN];
	const char *secret = cfg->erasure_key;
	*key_id = "erasure-key";
	if (!secret) {
		/* A key of its own, derived so that the tombstone hash is not the JWT secret's
		 * HMAC of anything a token could carry. */
		static const char label[] = "scrollkeep erasure tombstone v1";
		if (!cfg->jwt_secret || crypto_hmac_sha256(cfg->jwt_secret, strlen(cfg->jwt_secret),
		                                           label, sizeof(label) - 1, key) < 0)
			return -1;
		*key_id = "jwt-derived";
	} else {
		crypto_sha256(secret, strlen(secret), key);
	}
	if (crypto_hmac_sha256(key, sizeof(key), user_id, strlen(user_id), mac) < 0)
		return -1;
	crypto_hex(mac, sizeof(mac), hex);
	return 0;
}

/* ---- the export ---- */

/* The artifacts' files, each read from the store and checked against its row's hash. */
static json_t *export_files(const struct config *cfg, const json_t *artifacts)
{
	json_t *files = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(artifacts, i, a)
	{
		const char *path = json_string_value(json_object_get(a, "storage_path"));
		if (!path)
			continue;
		size_t len;
		char sha[SHA256_HEX_LEN + 1];
		struct sk_err ferr = {0};
		char *data = store_get(cfg->artifact_dir, path, &len, sha, &ferr);
		json_t *f = json_pack("{s:O?, s:s, s:O?}", "artifact_id", json_object_get(a, "id"),
		                      "path", path, "media_type", json_object_get(a, "media_type"));
		if (!data) {
			json_object_set_new(f, "missing", json_true());
		} else {
			char *b64 = malloc(crypto_b64url_len(len) + 1);
			if (b64) {
				crypto_b64url_encode((const uint8_t *)data, len, b64);
				json_object_set_new(f, "sha256", json_string(sha));
				json_object_set_new(f, "bytes", json_integer((json_int_t)len));
				json_object_set_new(f, "content_base64url", json_string(b64));
			}
			free(b64);
			free(data);
		}
		json_array_append_new(files, f);
	}
	return files;
}

char *privacy_export_archive(PGconn *conn, const struct config *cfg, const char *user_id,
                             size_t *len, struct sk_err *err)
{
	const char *params[] = {user_id};
	json_t *doc = db_query_json(conn, "SELECT scrollkeep.export_subject($1)", 1, params, err);
	if (!doc)
		return NULL;
	if (json_is_null(json_object_get(doc, "account"))) {
		json_decref(doc);
		err_set(err, PROBLEM_NOT_FOUND, "no such person");
		return NULL;
	}
	json_t *artifacts =
	        json_object_get(json_object_get(doc, "tables"), "public.oracle_artifacts");
	json_object_set_new(doc, "files", export_files(cfg, artifacts));
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text) {
		err_set(err, PROBLEM_INTERNAL, "out of memory");
		return NULL;
	}
	*len = strlen(text);
	return text;
}

static const char *const sql_export_row =
        "SELECT user_id, status FROM public.data_exports WHERE id = $1";
static const char *const sql_export_running =
        "UPDATE public.data_exports SET status = 'running'"
        " WHERE id = $1 AND status IN ('requested', 'running', 'failed')";
static const char *const sql_export_ready =
        "UPDATE public.data_exports SET status = 'ready', storage_path = $2, sha256 = $3,"
        "       bytes = $4::bigint, ready_at = now(),"
        "       expires_at = now() + make_interval(days => $5::integer)"
        " WHERE id = $1";

int privacy_export_run(PGconn *conn, const struct config *cfg, const char *export_id,
                       struct sk_err *err)
{
	const char *params[5] = {export_id};
	PGresult *row = db_query(conn, sql_export_row, 1, params, err);
	if (!row)
		return -1;
	if (PQntuples(row) != 1 || PQgetisnull(row, 0, 0)) {
		PQclear(row);
		return err_set(err, PROBLEM_NOT_FOUND, "no such data export");
	}
	char user[40];
	snprintf(user, sizeof(user), "%s", PQgetvalue(row, 0, 0));
	bool done = strcmp(PQgetvalue(row, 0, 1), "requested") != 0 &&
	            strcmp(PQgetvalue(row, 0, 1), "running") != 0 &&
	            strcmp(PQgetvalue(row, 0, 1), "failed") != 0;
	PQclear(row);
	if (done)
		return 0;
	if (db_exec(conn, sql_export_running, 1, params, err) < 0)
		return -1;
	size_t len;
	char *archive = privacy_export_archive(conn, cfg, user, &len, err);
	if (!archive)
		return -1;
	char rel[64], dir[4096], full[4200], sha[SHA256_HEX_LEN + 1], bytes[24], days[8];
	snprintf(rel, sizeof(rel), "exports/%s.json", export_id);
	snprintf(dir, sizeof(dir), "%s/exports", cfg->artifact_dir);
	snprintf(full, sizeof(full), "%s/%s", cfg->artifact_dir, rel);
	crypto_sha256_hex(archive, len, sha);
	snprintf(bytes, sizeof(bytes), "%zu", len);
	snprintf(days, sizeof(days), "%d", PRIVACY_EXPORT_DAYS);
	if ((mkdir(cfg->artifact_dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
		free(archive);
		return err_set(err, PROBLEM_UNAVAILABLE, "cannot create the export directory");
	}
	int rc = file_write_atomic(full, archive, len, err);
	free(archive);
	if (rc < 0)
		return -1;
	params[1] = rel;
	params[2] = sha;
	params[3] = bytes;
	params[4] = days;
	return db_exec(conn, sql_export_ready, 5, params, err);
}

/* ---- the proof ---- */

/* Whether any probe (4 characters or more, as in SQL) occurs in data. */
static bool file_has_probe(const char *data, size_t len, const json_t *probes)
{
	size_t i;
	json_t *p;
	json_array_foreach(probes, i, p)
	{
		const char *s = json_string_value(p);
		size_t n = s ? strlen(s) : 0;
		if (n >= 4 && n <= len && memmem(data, len, s, n))
			return true;
	}
	return false;
}

struct file_scan {
	const json_t *probes;
	json_t *hits;
	int scanned;
};

static void scan_file(const char *dir, const char *rel, const struct stat *st, void *ctx)
{
	(void)st;
	struct file_scan *fs = ctx;
	char path[4800];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	size_t len;
	struct sk_err ignored;
	char *data = file_read_all(path, STORE_FILE_MAX, &len, &ignored);
	if (!data)
		return;
	fs->scanned++;
	if (file_has_probe(data, len, fs->probes))
		json_array_append_new(fs->hits, json_string(rel));
	free(data);
}

/* Scan the database and the store for probes; fills report's hits, locations, file_hits,
 * files_scanned and dead_rows. */
static int scan(PGconn *conn, const struct config *cfg, const json_t *probes, json_t *report,
                struct sk_err *err)
{
	char *array = json_dumps(probes, JSON_COMPACT);
	if (!array)
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	const char *params[] = {array};
	PGresult *res = db_query(conn,
	                         "SELECT table_schema || '.' || table_name, column_name, hits"
	                         "  FROM scrollkeep.erasure_scan("
	                         "         ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))",
	                         1, params, err);
	free(array);
	if (!res)
		return -1;
	json_t *locations = json_array();
	long long hits = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		long long n = atoll(PQgetvalue(res, i, 2));
		hits += n;
		json_array_append_new(locations,
		                      json_pack("{s:s, s:s, s:I}", "table", PQgetvalue(res, i, 0),
		                                "column", PQgetvalue(res, i, 1), "rows", n));
	}
	PQclear(res);
	json_t *file_hits = json_array();
	struct file_scan fs = {probes, file_hits, 0};
	if (store_each_file(cfg->artifact_dir, scan_file, &fs, err) < 0) {
		json_decref(locations);
		json_decref(file_hits);
		return -1;
	}
	int scanned = fs.scanned;
	hits += (long long)json_array_size(file_hits);
	res = db_query(conn, "SELECT scrollkeep.dead_rows()", 0, NULL, err);
	if (!res) {
		json_decref(locations);
		json_decref(file_hits);
		return -1;
	}
	json_object_set_new(report, "dead_rows_awaiting_vacuum",
	                    json_integer(atoll(PQgetvalue(res, 0, 0))));
	PQclear(res);
	json_object_set_new(report, "hits", json_integer(hits));
	json_object_set_new(report, "locations", locations);
	json_object_set_new(report, "file_hits", file_hits);
	json_object_set_new(report, "files_scanned", json_integer(scanned));
	json_object_set_new(report, "probes", json_integer((json_int_t)json_array_size(probes)));
	return 0;
}

/* What is kept after a deletion, why, and until when. */
static json_t *retained_classes(void)
{
	return json_pack(
	        "[{s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]", "class",
	        "payments, checkout sessions, entitlements and their ledgers", "why",
	        "tax and accounting records, pseudonymized: linked only to a random surrogate",
	        "until", "10 years after the payment (HGB §257, AO §147)", "class",
	        "stored Stripe events", "why",
	        "the payments' evidence, with the buyer's details and every mention removed",
	        "until", "10 years after the payment", "class", "readings", "why",
	        "the scroll itself, anonymized: no question, answer or person", "until",
	        "as long as the product keeps scrolls", "class",
	        "the deletion request, its tombstone and audit entry", "why",
	        "the record that the person was forgotten (the tombstone is a keyed hash)", "until",
	        "kept, so that a restore forgets the person again");
}

/* The report's final fields and its hash, then the request's 'proved' step. */
static int prove(PGconn *conn, const struct config *cfg, const char *request_id, json_t *report,
                 struct sk_err *err)
{
	const char *params[4] = {request_id};
	json_t *probes = db_query_json(conn,
	                               "SELECT coalesce(jsonb_agg(value), '[]') FROM"
	                               " scrollkeep.erasure_probes WHERE deletion_request_id = $1"
	                               " AND kind <> 'file'",
	                               1, params, err);
	if (!probes)
		return -1;
	int rc = scan(conn, cfg, probes, report, err);
	json_decref(probes);
	if (rc < 0)
		return -1;
	char days[8];
	snprintf(days, sizeof(days), "%d", cfg->backup_retention_days);
	params[1] = days;
	json_t *when = db_query_json(
	        conn,
	        "SELECT jsonb_build_object('generated_at', now(), 'backups_clear_on',"
	        " to_char((now() + make_interval(days => $2::integer)) AT TIME ZONE 'UTC',"
	        " 'YYYY-MM-DD'), 'backup_retention_days', $2::integer, 'request', $1::uuid)",
	        2, params, err);
	if (!when)
		return -1;
	json_object_update(report, when);
	json_decref(when);
	json_object_set_new(report, "retained", retained_classes());
	char *text = json_dumps(report, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	char sha[SHA256_HEX_LEN + 1];
	crypto_sha256_hex(text, strlen(text), sha);
	params[1] = "proved";
	params[2] = text;
	params[3] = sha;
	rc = db_exec(conn, "SELECT scrollkeep.forget_finish($1, $2, $3::jsonb, $4)", 4, params,
	             err);
	free(text);
	return rc;
}

/* Remove the files the request collected that no row points to any more. */
static int delete_files(PGconn *conn, const struct config *cfg, const char *request_id,
                        struct sk_err *err)
{
	const char *params[2] = {request_id};
	PGresult *res = db_query(conn,
	                         "SELECT p.value FROM scrollkeep.erasure_probes p"
	                         " WHERE p.deletion_request_id = $1 AND p.kind = 'file'"
	                         "   AND p.value NOT IN (SELECT scrollkeep.artifact_paths())",
	                         1, params, err);
	if (!res)
		return -1;
	int removed = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *rel = PQgetvalue(res, i, 0);
		if (!store_path_valid(rel))
			continue;
		char full[4200];
		snprintf(full, sizeof(full), "%s/%s", cfg->artifact_dir, rel);
		if (unlink(full) == 0)
			removed++;
		else if (errno != ENOENT) {
			PQclear(res);
			return err_set(err, PROBLEM_UNAVAILABLE, "cannot remove a stored file");
		}
	}
	PQclear(res);
	char count[16];
	snprintf(count, sizeof(count), "%d", removed);
	params[1] = count;
	return db_exec(
	        conn,
	        "SELECT scrollkeep.forget_finish($1, 'files_deleted',"
	        " scrollkeep.forget_count(d.report, 'deleted', 'artifact_files', $2::bigint),"
	        " NULL) FROM public.deletion_requests d WHERE d.id = $1",
	        2, params, err);
}

int privacy_forget_run(PGconn *conn, const struct config *cfg, const char *request_id,
                       json_t **report, struct sk_err *err)
{
	const char *params[3] = {request_id};
	PGresult *row = db_query(conn,
	                         "SELECT coalesce(user_id::text, ''), status, coalesce(step, '')"
	                         "  FROM public.deletion_requests WHERE id = $1",
	                         1, params, err);
	if (!row)
		return -1;
	if (PQntuples(row) != 1) {
		PQclear(row);
		return err_set(err, PROBLEM_NOT_FOUND, "no such deletion request");
	}
	char hmac[65] = "", step[48];
	const char *key_id = "none";
	if (*PQgetvalue(row, 0, 0) &&
	    privacy_subject_hmac(cfg, PQgetvalue(row, 0, 0), hmac, &key_id) < 0) {
		PQclear(row);
		return err_set(err, PROBLEM_INTERNAL, "no erasure key (SCROLLKEEP_ERASURE_KEY)");
	}
	bool finished = strcmp(PQgetvalue(row, 0, 1), "completed") == 0;
	snprintf(step, sizeof(step), "%s", PQgetvalue(row, 0, 2));
	PQclear(row);
	params[1] = *hmac ? hmac : NULL;
	params[2] = key_id;
	/* Each SQL step is its own transaction; forget_step answers the last step done. */
	for (int i = 0; !finished && i < 16; i++) {
		PGresult *res =
		        db_query(conn, "SELECT scrollkeep.forget_step($1, $2, $3)", 3, params, err);
		if (!res)
			return -1;
		bool same = strcmp(step, PQgetvalue(res, 0, 0)) == 0;
		snprintf(step, sizeof(step), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		if (same)
			break;
	}
	if (!finished && strcmp(step, "account_deleted") == 0) {
		if (delete_files(conn, cfg, request_id, err) < 0)
			return -1;
		snprintf(step, sizeof(step), "files_deleted");
	}
	if (!finished && strcmp(step, "files_deleted") == 0) {
		json_t *stored = db_query_json(conn,
		                               "SELECT report FROM public.deletion_requests"
		                               " WHERE id = $1",
		                               1, params, err);
		if (!stored)
			return -1;
		int rc = prove(conn, cfg, request_id, stored, err);
		json_decref(stored);
		if (rc < 0)
			return -1;
	}
	if (report) {
		*report = db_query_json(
		        conn,
		        "SELECT jsonb_build_object('id', id, 'status', status, 'step',"
		        " step, 'report', report, 'report_sha256', report_sha256)"
		        "  FROM public.deletion_requests WHERE id = $1",
		        1, params, err);
		if (!*report)
			return -1;
	}
	return 0;
}

json_t *privacy_proof(PGconn *conn, const struct config *cfg, const char *user_id,
                      struct sk_err *err)
{
	const char *params[2] = {user_id};
	json_t *probes = db_query_json(
	        conn,
	        "SELECT coalesce(jsonb_agg(value), '[]') FROM scrollkeep.subject_probes($1::uuid)"
	        " WHERE kind <> 'file'",
	        1, params, err);
	if (!probes)
		return NULL;
	json_t *report = json_object();
	if (scan(conn, cfg, probes, report, err) < 0) {
		json_decref(probes);
		json_decref(report);
		return NULL;
	}
	json_decref(probes);
	char hmac[65];
	const char *key_id;
	if (privacy_subject_hmac(cfg, user_id, hmac, &key_id) == 0) {
		params[1] = hmac;
		json_t *erased = db_query_json(
		        conn,
		        "SELECT coalesce((SELECT jsonb_build_object('request', d.id, 'status',"
		        " d.status, 'completed_at', d.completed_at, 'report_sha256', d.report_sha256,"
		        " 'report', d.report) FROM public.erasure_tombstones t"
		        " JOIN public.deletion_requests d ON d.id = t.deletion_request_id"
		        " WHERE t.subject_hmac = $2 AND $1::text IS NOT NULL), '{}'::jsonb)",
		        2, params, err);
		if (!erased) {
			json_decref(report);
			return NULL;
		}
		if (json_object_size(erased) == 0) {
			json_decref(erased);
			erased = json_null();
		}
		json_object_set_new(report, "erasure", erased);
	}
	return report;
}

int privacy_reapply_tombstones(PGconn *conn, const struct config *cfg, int *forgotten, int *failed,
                               struct sk_err *err)
{
	*forgotten = *failed = 0;
	PGresult *res = db_query(conn, "SELECT scrollkeep.accounts()", 0, NULL, err);
	if (!res)
		return -1;
	json_t *accounts = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		char hmac[65];
		const char *key_id;
		if (privacy_subject_hmac(cfg, PQgetvalue(res, i, 0), hmac, &key_id) < 0) {
			PQclear(res);
			json_decref(accounts);
			return err_set(err, PROBLEM_INTERNAL,
			               "no erasure key (SCROLLKEEP_ERASURE_KEY)");
		}
		json_array_append_new(accounts, json_pack("{s:s, s:s}", "id", PQgetvalue(res, i, 0),
		                                          "hmac", hmac));
	}
	PQclear(res);
	char *text = json_dumps(accounts, JSON_COMPACT);
	json_decref(accounts);
	if (!text)
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	const char *params[] = {text};
	res = db_query(conn, "SELECT scrollkeep.reapply_tombstones($1::jsonb)", 1, params, err);
	free(text);
	if (!res)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		json_t *done = NULL;
		rc = privacy_forget_run(conn, cfg, PQgetvalue(res, i, 0), &done, err);
		if (rc == 0) {
			const char *status = json_string_value(json_object_get(done, "status"));
			if (status && strcmp(status, "completed") == 0)
				(*forgotten)++;
			else
				(*failed)++;
		}
		json_decref(done);
	}
	PQclear(res);
	return rc;
}
