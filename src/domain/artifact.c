/*
 * artifact.c — requesting and reading artifacts.
 */
#include "artifact.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/crypto.h"
#include "core/db.h"
#include "core/json.h"
#include "core/testhook.h"
#include "domain/consent.h"
#include "jobs/queue.h"
#include "domain/reading.h"

static const char *const kinds[] = {"pdf", "private_pdf", "share_card", "gift", "print_view", NULL};

static const struct json_field artifact_fields[] = {
        {"kind", JSON_FIELD_STRING, true, 1, 20, kinds},
        {"gift", JSON_FIELD_OBJECT, false, 0, 0, NULL},
};

static const struct json_field gift_fields[] = {
        {"email", JSON_FIELD_STRING, true, 3, 254, NULL},
        {"name", JSON_FIELD_STRING, false, 1, 120, NULL},
        {"message", JSON_FIELD_STRING, false, 1, 1000, NULL},
};

const char *artifact_job_kind(const char *kind)
{
	if (strcmp(kind, "pdf") == 0)
		return "pdf_render_job";
	if (strcmp(kind, "private_pdf") == 0)
		return "private_pdf_render_job";
	if (strcmp(kind, "share_card") == 0)
		return "share_card_render_job";
	if (strcmp(kind, "gift") == 0)
		return "gift_delivery_job";
	return NULL;
}

static const char *visibility(const char *kind)
{
	if (strcmp(kind, "share_card") == 0)
		return "public";
	if (strcmp(kind, "gift") == 0)
		return "recipient";
	return "private";
}

/* An address as deliverable mail needs it: one @, something on both sides, a dot in the
 * domain, no white space. (The SMTP server is the final judge.) */
static bool email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') || at[1] == '.' ||
	    s[strlen(s) - 1] == '.')
		return false;
	for (; *s; s++)
		if (isspace((unsigned char)*s) || *s == '<' || *s == '>' || *s == ',' || *s == '"')
			return false;
	return true;
}

int artifact_validate(const json_t *body, struct sk_err *err)
{
	if (json_check_fields(body, artifact_fields,
	                      sizeof(artifact_fields) / sizeof(artifact_fields[0]), NULL, err) < 0)
		return -1;
	bool is_gift = strcmp(json_str(body, "kind"), "gift") == 0;
	const json_t *gift = json_object_get(body, "gift");
	bool has_gift = gift && !json_is_null(gift);
	if (is_gift != has_gift)
		return err_set(err, PROBLEM_INVALID_BODY,
		               is_gift ? "a gift needs gift.email" : "gift is only for kind gift");
	if (!is_gift)
		return 0;
	if (json_check_fields(gift, gift_fields, sizeof(gift_fields) / sizeof(gift_fields[0]),
	                      "gift.", err) < 0)
		return -1;
	if (!email_ok(json_str(gift, "email")))
		return err_set(err, PROBLEM_INVALID_BODY, "gift.email is not an e-mail address");
	return 0;
}

static const char *const sql_insert =
        "INSERT INTO public.oracle_artifacts (user_id, reading_id, kind, visibility, request_key,"
        " public_fields, share_token) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)"
        " ON CONFLICT (user_id, request_key) DO NOTHING RETURNING id, status";

static const char *const sql_existing =
        "SELECT id, status FROM public.oracle_artifacts WHERE user_id = $1 AND request_key = $2";

/* Concurrent gift requests on one reading take turns (until the transaction ends), so the
 * look-up below and the insert after it are one step. */
static const char *const sql_lock_gifts =
        "SELECT pg_advisory_xact_lock(hashtextextended('gift:' || $1::text, 0))";

/* The same reading's gift to the same address, if there is one. */
static const char *const sql_existing_gift =
        "SELECT a.id, a.status FROM public.oracle_artifacts a"
        "  JOIN public.gift_recipients g ON g.artifact_id = a.id"
        " WHERE a.reading_id = $1 AND a.kind = 'gift' AND lower(g.email) = lower($2)";

static int first_row(PGresult *res, char id[37], char status[16])
{
	if (!res || PQntuples(res) != 1)
		return 0;
	snprintf(id, 37, "%s", PQgetvalue(res, 0, 0));
	snprintf(status, 16, "%s", PQgetvalue(res, 0, 1));
	return 1;
}

/* Insert the artifact unless the same request made it already; fills id and status. */
static int insert_or_find(PGconn *conn, const char *user_id, const char *reading_id,
                          const char *kind, const char *request_key, const char *fields,
                          const char *share_token, char id[37], char status[16], struct sk_err *err)
{
	const char *params[] = {user_id,     reading_id, kind,       visibility(kind),
	                        request_key, fields,     share_token};
	PGresult *res = db_query(conn, sql_insert, 7, params, err);
	if (!res)
		return -1;
	int found = first_row(res, id, status);
	PQclear(res);
	if (found)
		return 0;
	const char *again[] = {user_id, request_key};
	res = db_query(conn, sql_existing, 2, again, err);
	if (!res)
		return -1;
	found = first_row(res, id, status);
	PQclear(res);
	return found ? 0 : err_set(err, PROBLEM_CONFLICT, "the artifact could not be created");
}

static int create_gift(PGconn *conn, const char *user_id, const char *reading_id,
                       const json_t *gift, const char *fields, char id[37], char status[16],
                       bool *existed, struct sk_err *err)
{
	const char *find[] = {reading_id, json_str(gift, "email")};
	if (db_exec(conn, sql_lock_gifts, 1, find, err) < 0)
		return -1;
	PGresult *res = db_query(conn, sql_existing_gift, 2, find, err);
	if (!res)
		return -1;
	*existed = first_row(res, id, status);
	PQclear(res);
	if (*existed)
		return 0;
	char fresh[37], key[48];
	if (crypto_uuid_v4(fresh) < 0)
		return err_set(err, PROBLEM_INTERNAL, "no randomness");
	snprintf(key, sizeof(key), "gift:%s", fresh);
	if (insert_or_find(conn, user_id, reading_id, "gift", key, fields, NULL, id, status, err) <
	    0)
		return -1;
	const char *params[] = {id, user_id, json_str(gift, "email"), json_str(gift, "name"),
	                        json_str(gift, "message")};
	return db_exec(
	        conn,
	        "INSERT INTO public.gift_recipients (artifact_id, user_id, email, name, message)"
	        " VALUES ($1, $2, $3, $4, $5)",
	        5, params, err);
}

static const char *required_consent(const char *kind)
{
	if (strcmp(kind, "share_card") == 0)
		return "public_share";
	if (strcmp(kind, "gift") == 0)
		return "gift_delivery";
	return NULL;
}

json_t *artifact_request(PGconn *conn, const char *user_id, const char *reading_id,
                         const json_t *body, struct sk_err *err)
{
	const char *kind = json_str(body, "kind");
	json_t *fields = reading_public_fields(conn, user_id, reading_id, err);
	if (!fields)
		return NULL; /* not the person's reading: 404 */
	char *fields_text = json_dumps(fields, JSON_COMPACT);
	json_decref(fields);
	json_t *out = NULL;
	const char *consent = required_consent(kind);
	if (!fields_text) {
		err_set(err, PROBLEM_INTERNAL, "out of memory");
		goto done;
	}
	if (consent && consent_require(conn, user_id, &consent, 1, err) < 0)
		goto done;
	if (db_set_role(conn, DB_ROLE_SERVICE, err) < 0)
		goto done;

	char id[37], status[16];
	bool existed = false;
	if (strcmp(kind, "gift") == 0) {
		if (create_gift(conn, user_id, reading_id, json_object_get(body, "gift"),
		                fields_text, id, status, &existed, err) < 0)
			goto done;
	} else {
		char key[64], token[64];
		snprintf(key, sizeof(key), "%s:%s", kind, reading_id);
		bool share = strcmp(kind, "share_card") == 0;
		if (share && crypto_token(32, token, sizeof(token)) < 0) {
			err_set(err, PROBLEM_INTERNAL, "no randomness");
			goto done;
		}
		if (insert_or_find(conn, user_id, reading_id, kind, key, fields_text,
		                   share ? token : NULL, id, status, err) < 0)
			goto done;
	}
	out = json_pack("{s:s, s:s, s:s}", "id", id, "kind", kind, "status", status);
	const char *job_kind = artifact_job_kind(kind);
	if (out && job_kind) {
		char job_key[64];
		snprintf(job_key, sizeof(job_key), "artifact:%s", id);
		json_t *payload = json_pack("{s:s, s:s}", "artifact_id", id, "user_id", user_id);
		struct queue_job_ref job;
		int rc = queue_enqueue(conn, job_kind, payload, job_key, NULL, &job, err);
		json_decref(payload);
		if (rc < 0) {
			json_decref(out);
			out = NULL;
			goto done;
		}
		json_object_set_new(out, "job",
		                    json_pack("{s:I, s:s, s:s}", "id", (json_int_t)job.id,
		                              "support_ref", job.support_ref, "status",
		                              job.status));
	}
done:
	free(fields_text);
	return out;
}

static const char *const sql_get_any =
        "SELECT json_build_object('id', a.id, 'reading_id', a.reading_id, 'kind', a.kind,"
        " 'visibility', a.visibility, 'status', a.status, 'content_type', a.content_type,"
        " 'bytes', a.bytes, 'sha256', a.sha256, 'created_at', a.created_at, 'ready_at', a.ready_at,"
        " 'share_path', CASE WHEN a.share_token IS NOT NULL THEN '/share/' || a.share_token END)"
        " FROM public.oracle_artifacts a WHERE a.id = $1";
static const char *const sql_get_own =
        "SELECT json_build_object('id', a.id, 'reading_id', a.reading_id, 'kind', a.kind,"
        " 'visibility', a.visibility, 'status', a.status, 'content_type', a.content_type,"
        " 'bytes', a.bytes, 'sha256', a.sha256, 'created_at', a.created_at, 'ready_at', a.ready_at,"
        " 'share_path', CASE WHEN a.share_token IS NOT NULL THEN '/share/' || a.share_token END)"
        " FROM public.oracle_artifacts a WHERE a.id = $1 AND a.user_id = $2";

/* The delivery job behind an artifact, read as service_role (jobs are not a person's table)
 * but only for an artifact RLS has already shown to be theirs. */
static const char *const sql_job =
        "SELECT json_build_object('id', j.id, 'kind', j.kind, 'status', j.status,"
        " 'support_ref', j.support_ref, 'attempts', j.attempts, 'next_run_at', j.next_run_at)"
        " FROM public.delivery_jobs j WHERE j.idempotency_key = 'artifact:' || $1";

json_t *artifact_get(PGconn *conn, const char *user_id, const char *artifact_id, struct sk_err *err)
{
	const char *params[] = {artifact_id, user_id};
	PGresult *res = testhook_skip_owner_checks() ? db_query(conn, sql_get_any, 1, params, err)
	                                             : db_query(conn, sql_get_own, 2, params, err);
	if (!res)
		return NULL;
	json_t *out = NULL;
	json_error_t jerr;
	if (PQntuples(res) == 1)
		out = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	else
		err_set(err, PROBLEM_NOT_FOUND, "no such artifact");
	PQclear(res);
	if (!out)
		return NULL;
	if (db_set_role(conn, DB_ROLE_SERVICE, err) < 0 ||
	    !(res = db_query(conn, sql_job, 1, params, err))) {
		json_decref(out);
		return NULL;
	}
	json_t *job =
	        PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, &jerr) : json_null();
	json_object_set_new(out, "job", job ? job : json_null());
	PQclear(res);
	return out;
}

/* ---- documents ---- */

static const char *const sql_doc =
        "SELECT a.id, a.user_id, a.reading_id, a.kind, a.status, a.public_fields::text,"
        "       coalesce(a.gift_token, ''), r.question, r.answer"
        "  FROM public.oracle_artifacts a JOIN public.readings r ON r.id = a.reading_id"
        " WHERE a.id = $1 AND r.anonymized_at IS NULL";

static void fill_cards(struct artifact_doc *doc)
{
	const json_t *spread = json_object_get(doc->fields, "spread");
	size_t i;
	const json_t *c;
	json_array_foreach(spread, i, c)
	{
		if (doc->pub.ncards >= RENDER_MAX_CARDS)
			break;
		struct render_spread_card *card = &doc->cards[doc->pub.ncards++];
		snprintf(card->card, sizeof(card->card), "%s",
		         json_str(c, "card") ? json_str(c, "card") : "");
		snprintf(card->position, sizeof(card->position), "%s",
		         json_str(c, "position") ? json_str(c, "position") : "");
		card->reversed = json_is_true(json_object_get(c, "reversed"));
	}
	doc->pub.cards = doc->cards;
}

int artifact_load_doc(PGconn *conn, const char *id, bool with_private, bool lock,
                      struct artifact_doc *doc, struct sk_err *err)
{
	memset(doc, 0, sizeof(*doc));
	char sql[1024];
	snprintf(sql, sizeof(sql), "%s%s", sql_doc, lock ? " FOR UPDATE OF a" : "");
	const char *params[] = {id};
	PGresult *res = db_query(conn, sql, 1, params, err);
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return err_set(err, PROBLEM_NOT_FOUND, "no such artifact");
	}
	snprintf(doc->id, sizeof(doc->id), "%s", PQgetvalue(res, 0, 0));
	snprintf(doc->user_id, sizeof(doc->user_id), "%s", PQgetvalue(res, 0, 1));
	snprintf(doc->reading_id, sizeof(doc->reading_id), "%s", PQgetvalue(res, 0, 2));
	snprintf(doc->kind, sizeof(doc->kind), "%s", PQgetvalue(res, 0, 3));
	snprintf(doc->status, sizeof(doc->status), "%s", PQgetvalue(res, 0, 4));
	json_error_t jerr;
	doc->fields = json_loads(PQgetvalue(res, 0, 5), 0, &jerr);
	snprintf(doc->gift_token, sizeof(doc->gift_token), "%s", PQgetvalue(res, 0, 6));
	if (with_private) {
		doc->question = strdup(PQgetvalue(res, 0, 7));
		doc->answer = strdup(PQgetvalue(res, 0, 8));
	}
	PQclear(res);
	if (!doc->fields || (with_private && (!doc->question || !doc->answer))) {
		artifact_doc_free(doc);
		return err_set(err, PROBLEM_INTERNAL, "cannot load the artifact");
	}
	doc->pub.title = json_str(doc->fields, "public_title");
	doc->pub.line = json_str(doc->fields, "public_line");
	doc->pub.product = json_str(doc->fields, "product_code");
	doc->pub.sealed_at = json_str(doc->fields, "sealed_at");
	doc->pub.seal_sha256 = json_str(doc->fields, "seal_sha256");
	fill_cards(doc);
	return 0;
}

void artifact_doc_free(struct artifact_doc *doc)
{
	json_decref(doc->fields);
	free(doc->question);
	free(doc->answer);
	memset(doc, 0, sizeof(*doc));
}

int artifact_render(const struct artifact_doc *doc, struct buf *out, const char **ext,
                    const char **content_type, struct sk_err *err)
{
	struct render_private priv = {doc->question, doc->answer};
	if (strcmp(doc->kind, "share_card") == 0) {
		struct render_card card;
		render_card_from_public(&doc->pub, &card);
		*ext = "png";
		*content_type = "image/png";
		return render_card_png(&card, out, err);
	}
	if (strcmp(doc->kind, "print_view") == 0) {
		char *page = render_print_html(&doc->pub, doc->question ? &priv : NULL, err);
		if (!page)
			return -1;
		buf_puts(out, page);
		free(page);
		*ext = "html";
		*content_type = "text/html; charset=utf-8";
		return buf_failed(out) ? err_set(err, PROBLEM_INTERNAL, "out of memory") : 0;
	}
	*ext = "pdf";
	*content_type = "application/pdf";
	if (strcmp(doc->kind, "private_pdf") == 0)
		return render_reading_pdf(&doc->pub, &priv, NULL, out, err);
	if (strcmp(doc->kind, "gift") == 0)
		return render_reading_pdf(&doc->pub, NULL, "A GIFT FOR YOU", out, err);
	return render_reading_pdf(&doc->pub, NULL, NULL, out, err);
}
