/*
 * email.c — templates, composition and delivery of e-mail (see email.h).
 */
#include "email.h"

#include <ctype.h>
#include <stdbool.h>
#include <curl/curl.h>
#include <errno.h>
#include <glib.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/db.h"
#include "core/files.h"

/* ---- templates ---- */

struct email_template {
	const char *name;
	const char *subject;
	const char *text;
	const char *html; /* the inner part; wrapped in the common layout */
};

static const struct email_template templates[] = {
        {"receipt", "Your receipt",
         "Thank you for your purchase.\n\n{{product}}: {{amount}}\n\nYour receipt and what you "
         "unlocked are here:\n{{link}}\n",
         "<p>Thank you for your purchase.</p><p><strong>{{product}}</strong>: {{amount}}</p>"
         "<p><a href=\"{{link}}\">See your receipt and what you unlocked</a></p>"},
        {"artifact_ready", "Your {{kind_label}} is ready",
         "Your {{kind_label}} is ready.\n\nOpen it here (you may be asked to sign in):\n{{link}}\n",
         "<p>Your {{kind_label}} is ready.</p>"
         "<p><a href=\"{{link}}\">Open it</a> (you may be asked to sign in).</p>"},
        {"gift", "A reading was sent to you as a gift",
         "Hello {{name}},\n\nSomeone sent you a reading as a gift.\n\n{{message}}\n\nOpen it "
         "here:\n{{link}}\n",
         "<p>Hello {{name}},</p><p>Someone sent you a reading as a gift.</p>"
         "<blockquote style=\"white-space:pre-wrap\">{{message}}</blockquote>"
         "<p><a href=\"{{link}}\">Open your gift</a></p>"},
        {"echo", "An echo of your reading has returned",
         "An echo of one of your readings has returned.\n\nRead it here (you may be asked to sign "
         "in):\n{{link}}\n",
         "<p>An echo of one of your readings has returned.</p>"
         "<p><a href=\"{{link}}\">Read it</a> (you may be asked to sign in).</p>"},
        {"access_recovery", "The way back to your readings",
         "You asked for a way back to your readings.\n\nFollow this link to sign in:\n{{link}}\n\n"
         "If you did not ask, you can ignore this message.\n",
         "<p>You asked for a way back to your readings.</p>"
         "<p><a href=\"{{link}}\">Sign in to your readings</a></p>"
         "<p>If you did not ask, you can ignore this message.</p>"},
};

static const char html_head[] =
        "<!doctype html><html><head><meta charset=\"utf-8\"></head>"
        "<body style=\"margin:0;background:#fbf7ed;font-family:Georgia,serif;color:#231f33\">"
        "<div style=\"max-width:34em;margin:2em auto;padding:1.5em 2em;background:#fff;"
        "border:1px solid #b0853c;border-radius:8px;line-height:1.5\">";
static const char html_tail[] =
        "<p style=\"font:12px sans-serif;color:#6b6678;margin-top:2em\">This message was sent by "
        "scrollkeep. It holds no part of your question or its answer.</p></div></body></html>";

static const char *value_of(const struct email_value *values, size_t n, const char *key,
                            size_t key_len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(values[i].key) == key_len && strncmp(values[i].key, key, key_len) == 0)
			return values[i].value ? values[i].value : "";
	return "";
}

/* A value for a text part: valid UTF-8, no control characters but newline and tab. */
static void append_text_value(struct buf *b, const char *value)
{
	char *valid = g_utf8_make_valid(value, -1);
	for (const char *p = valid; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c >= 0x20 || c == '\n' || c == '\t')
			buf_append(b, p, 1);
	}
	g_free(valid);
}

static void append_html_value(struct buf *b, const char *value)
{
	char *valid = g_utf8_make_valid(value, -1);
	char *escaped = g_markup_escape_text(valid, -1);
	buf_puts(b, escaped);
	g_free(escaped);
	g_free(valid);
}

char *email_fill(const char *tmpl, const struct email_value *values, size_t n, int html)
{
	struct buf b = {0};
	const char *p = tmpl;
	while (*p) {
		const char *open = strstr(p, "{{");
		if (!open) {
			buf_puts(&b, p);
			break;
		}
		buf_append(&b, p, (size_t)(open - p));
		const char *close = strstr(open + 2, "}}");
		size_t key_len = close ? (size_t)(close - open - 2) : 0;
		bool is_key = close && key_len > 0 && key_len <= 32;
		for (size_t i = 0; is_key && i < key_len; i++)
			is_key = islower((unsigned char)open[2 + i]) || open[2 + i] == '_';
		if (!is_key) { /* not a placeholder: copy the braces as they are */
			buf_append(&b, open, 2);
			p = open + 2;
			continue;
		}
		const char *v = value_of(values, n, open + 2, key_len);
		if (html)
			append_html_value(&b, v);
		else
			append_text_value(&b, v);
		p = close + 2;
	}
	return buf_take(&b);
}

void email_rendered_free(struct email_rendered *r)
{
	free(r->subject);
	free(r->text);
	free(r->html);
	memset(r, 0, sizeof(*r));
}

int email_render(const char *template_name, const struct email_value *values, size_t n,
                 struct email_rendered *out, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	const struct email_template *t = NULL;
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
		if (strcmp(templates[i].name, template_name) == 0)
			t = &templates[i];
	if (!t)
		return err_set(err, PROBLEM_INTERNAL, "no e-mail template %s", template_name);
	out->subject = email_fill(t->subject, values, n, 0);
	out->text = email_fill(t->text, values, n, 0);
	char *inner = email_fill(t->html, values, n, 1);
	struct buf html = {0};
	if (inner) {
		buf_puts(&html, html_head);
		buf_puts(&html, inner);
		buf_puts(&html, html_tail);
	}
	free(inner);
	out->html = inner ? buf_take(&html) : NULL;
	if (!out->subject || !out->text || !out->html) {
		email_rendered_free(out);
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	}
	/* A subject is one line, whatever a value held. */
	for (char *c = out->subject; *c; c++)
		if (*c == '\r' || *c == '\n')
			*c = ' ';
	return 0;
}

/* ---- composition ---- */

static void append_base64(struct buf *b, const char *data)
{
	size_t len = strlen(data);
	for (size_t off = 0; off < len; off += 57) { /* 57 bytes -> one 76-character line */
		size_t chunk = len - off < 57 ? len - off : 57;
		unsigned char line[80];
		int n = EVP_EncodeBlock(line, (const unsigned char *)data + off, (int)chunk);
		buf_append(b, (const char *)line, (size_t)n);
		buf_puts(b, "\r\n");
	}
}

/* A header value for Subject: ASCII as it is, anything else as RFC 2047 encoded words of at
 * most 39 bytes each (52 base64 characters: a folded line stays under 78), never splitting a
 * UTF-8 character, on folded lines. */
static void append_subject(struct buf *b, const char *subject)
{
	bool ascii = true;
	for (const char *p = subject; *p; p++)
		ascii = ascii && (unsigned char)*p < 0x80;
	if (ascii) {
		buf_puts(b, subject);
		return;
	}
	size_t len = strlen(subject);
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 39 ? len - off : 39;
		while (off + n < len && n > 1 && ((unsigned char)subject[off + n] & 0xC0) == 0x80)
			n--; /* do not end inside a character */
		unsigned char word[64];
		EVP_EncodeBlock(word, (const unsigned char *)subject + off, (int)n);
		buf_printf(b, "%s=?UTF-8?B?%s?=", off ? "\r\n " : "", word);
		off += n;
	}
}

char *email_compose(const char *from, const char *to, const char *message_id, const char *date,
                    const struct email_rendered *r)
{
	struct buf b = {0};
	char boundary[64];
	snprintf(boundary, sizeof(boundary), "sk-%.40s", message_id + 1);
	for (char *c = boundary; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-')
			*c = '-';
	buf_printf(&b, "Date: %s\r\nFrom: %s\r\nTo: <%s>\r\nMessage-ID: %s\r\nSubject: ", date,
	           from, to, message_id);
	append_subject(&b, r->subject);
	buf_printf(&b,
	           "\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n"
	           "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n",
	           boundary);
	buf_printf(&b,
	           "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	           "Content-Transfer-Encoding: base64\r\n\r\n",
	           boundary);
	append_base64(&b, r->text);
	buf_printf(&b,
	           "--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
	           "Content-Transfer-Encoding: base64\r\n\r\n",
	           boundary);
	append_base64(&b, r->html);
	buf_printf(&b, "--%s--\r\n", boundary);
	return buf_take(&b);
}

/* ---- sending ---- */

/* The address inside MAIL_FROM ("Name <addr>" or "addr"), and its domain. */
static void sender(const struct config *cfg, char *from_header, size_t hlen, char *addr,
                   size_t alen, char *domain, size_t dlen)
{
	const char *from =
	        cfg->mail_from ? cfg->mail_from : "scrollkeep <oracle@scrollkeep.localhost>";
	snprintf(from_header, hlen, "%s", from);
	for (char *c = from_header; *c; c++)
		if (*c == '\r' || *c == '\n')
			*c = ' ';
	const char *lt = strchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		snprintf(addr, alen, "%.*s", (int)(gt - lt - 1), lt + 1);
	else
		snprintf(addr, alen, "%s", from);
	const char *at = strrchr(addr, '@');
	size_t o = 0;
	for (const char *c = at ? at + 1 : "scrollkeep.localhost"; *c && o + 1 < dlen; c++)
		if (isalnum((unsigned char)*c) || *c == '.' || *c == '-')
			domain[o++] = *c;
	domain[o] = '\0';
	if (!o)
		snprintf(domain, dlen, "scrollkeep.localhost");
}

/* An address we can put in an envelope: one @, no spaces, no angle brackets or line breaks. */
static bool address_ok(const char *a)
{
	const char *at = strchr(a, '@');
	if (!at || at == a || strchr(at + 1, '@') || !at[1] || strlen(a) > 254)
		return false;
	for (; *a; a++)
		if ((unsigned char)*a <= ' ' || strchr("<>,;\"\\", *a))
			return false;
	return true;
}

struct upload {
	const char *data;
	size_t len, off;
};

static size_t read_upload(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct upload *u = userp;
	size_t room = size * nmemb, left = u->len - u->off;
	size_t n = left < room ? left : room;
	memcpy(ptr, u->data + u->off, n);
	u->off += n;
	return n;
}

/* libcurl's debug channel carries the server's replies: keep the last one. */
static int keep_reply(CURL *h, curl_infotype type, char *data, size_t size, void *userp)
{
	(void)h;
	if (type != CURLINFO_HEADER_IN)
		return 0;
	char *reply = userp;
	size_t n = size < 199 ? size : 199;
	memcpy(reply, data, n);
	reply[n] = '\0';
	reply[strcspn(reply, "\r\n")] = '\0';
	return 0;
}

static void send_smtp(const struct config *cfg, const char *from_addr, const char *to,
                      const char *message, struct queue_result *r)
{
	char url[1024];
	snprintf(url, sizeof(url), "%s", cfg->smtp_url);
	bool starttls = false;
	char *q = strstr(url, "?starttls=required");
	if (q) {
		*q = '\0';
		starttls = true;
	}
	CURL *curl = curl_easy_init();
	if (!curl) {
		r->outcome = JOB_TRANSIENT;
		snprintf(r->error, sizeof(r->error), "cannot start an SMTP client");
		return;
	}
	char mail_from[300], rcpt[300], reply[200] = "";
	snprintf(mail_from, sizeof(mail_from), "<%s>", from_addr);
	snprintf(rcpt, sizeof(rcpt), "<%s>", to);
	struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
	struct upload up = {message, strlen(message), 0};
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload);
	curl_easy_setopt(curl, CURLOPT_READDATA, &up);
	curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(curl, CURLOPT_USE_SSL,
	                 starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
	curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, keep_reply);
	curl_easy_setopt(curl, CURLOPT_DEBUGDATA, (void *)reply);
	curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
	CURLcode rc = curl_easy_perform(curl);
	long code = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(curl);

	queue_redact(reply, r->provider_ref, sizeof(r->provider_ref));
	if (rc == CURLE_OK) {
		r->outcome = JOB_SUCCEEDED;
	} else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	           (rc == CURLE_OPERATION_TIMEDOUT && code == 0)) {
		r->outcome = JOB_PROVIDER_DOWN; /* nothing was handed over: pause, spend nothing */
		r->pause_seconds = 30;
		snprintf(r->error, sizeof(r->error), "the SMTP server cannot be reached (%s)",
		         curl_easy_strerror(rc));
	} else if (code >= 500 && code < 600) {
		r->outcome = JOB_PERMANENT;
		snprintf(r->error, sizeof(r->error), "the SMTP server refused the message: %s",
		         reply);
	} else {
		r->outcome = JOB_TRANSIENT;
		snprintf(r->error, sizeof(r->error), "SMTP %ld: %s (%s)", code, reply,
		         curl_easy_strerror(rc));
	}
}

/* Deliver into a maildir (tmp/, then renamed into new/ whole), as local delivery does. */
static void send_maildir(const char *message, struct queue_result *r)
{
	const char *dir = config_env("SCROLLKEEP_MAILDIR");
	char base[2048], tmp[2300], fresh[2300], name[160];
	snprintf(base, sizeof(base), "%s", dir ? dir : ".var/mail");
	const char *subs[] = {"", "/tmp", "/new", "/cur"};
	for (size_t i = 0; i < 4; i++) {
		char d[2100];
		snprintf(d, sizeof(d), "%s%s", base, subs[i]);
		if (mkdir(d, 0750) < 0 && errno != EEXIST) {
			r->outcome = JOB_TRANSIENT;
			snprintf(r->error, sizeof(r->error), "cannot create the maildir: %s",
			         strerror(errno));
			return;
		}
	}
	uint8_t rnd[8];
	char hex[17];
	crypto_random(rnd, sizeof(rnd));
	crypto_hex(rnd, sizeof(rnd), hex);
	snprintf(name, sizeof(name), "%ld.P%dR%s.scrollkeep", (long)time(NULL), (int)getpid(), hex);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", base, name);
	snprintf(fresh, sizeof(fresh), "%s/new/%s", base, name);
	struct sk_err err;
	if (file_write_atomic(tmp, message, strlen(message), &err) < 0 || rename(tmp, fresh) < 0) {
		r->outcome = JOB_TRANSIENT;
		snprintf(r->error, sizeof(r->error), "cannot write to the maildir");
		unlink(tmp);
		return;
	}
	r->outcome = JOB_SUCCEEDED;
	snprintf(r->provider_ref, sizeof(r->provider_ref), "maildir:new/%s", name);
}

/* ---- one delivery ---- */

static const char *const sql_record =
        "INSERT INTO public.email_messages (job_id, user_id, template, recipient_kind, recipient_ref,"
        " subject, message_id) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (message_id) DO UPDATE SET status = public.email_messages.status"
        " RETURNING status";

static const char *const sql_sent =
        "UPDATE public.email_messages SET status = $2, provider_ref = nullif($3, ''),"
        " sent_at = CASE WHEN $2 = 'sent' THEN now() END WHERE message_id = $1";

static void fail(struct queue_result *r, enum job_outcome outcome, const char *why)
{
	r->outcome = outcome;
	snprintf(r->error, sizeof(r->error), "%s", why);
}

void email_deliver(PGconn *conn, const struct config *cfg, const struct queue_job *job,
                   const struct email_message *msg, struct queue_result *r)
{
	if (!conn)
		return fail(r, JOB_TRANSIENT, "the database is unavailable");
	struct sk_err err;
	const char *params[] = {msg->recipient_kind, msg->recipient_ref};
	PGresult *res = db_query(conn, "SELECT scrollkeep.recipient_address($1, $2::uuid)", 2,
	                         params, &err);
	if (!res)
		return fail(r, JOB_TRANSIENT, "cannot look the address up");
	char to[256] = "";
	if (!PQgetisnull(res, 0, 0))
		snprintf(to, sizeof(to), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!to[0])
		return fail(r, JOB_PERMANENT, "the recipient has no address any more");
	if (!address_ok(to))
		return fail(r, JOB_PERMANENT, "the recipient's address cannot be used");

	struct email_rendered mail;
	if (email_render(msg->template_name, msg->values, msg->nvalues, &mail, &err) < 0)
		return fail(r, JOB_PERMANENT, err.detail);
	char from_header[300], from_addr[256], domain[128], message_id[200], id[24], date[64];
	sender(cfg, from_header, sizeof(from_header), from_addr, sizeof(from_addr), domain,
	       sizeof(domain));
	/* One Message-ID per delivery job: every retry of it sends the same one. */
	snprintf(message_id, sizeof(message_id), "<sk-%lld@%s>", job->id, domain);
	snprintf(id, sizeof(id), "%lld", job->id);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);

	const char *rec[] = {id,
	                     msg->user_id,
	                     msg->template_name,
	                     msg->recipient_kind,
	                     msg->recipient_ref,
	                     mail.subject,
	                     message_id};
	res = db_query(conn, sql_record, 7, rec, &err);
	bool recorded = res != NULL;
	bool already = recorded && strcmp(PQgetvalue(res, 0, 0), "sent") == 0;
	PQclear(res);
	if (!recorded) {
		email_rendered_free(&mail);
		return fail(r, JOB_TRANSIENT, "cannot record the message");
	}
	if (already) {
		email_rendered_free(&mail);
		r->outcome = JOB_SUCCEEDED;
		snprintf(r->provider_ref, sizeof(r->provider_ref), "already sent");
		return;
	}
	char *message = email_compose(from_header, to, message_id, date, &mail);
	email_rendered_free(&mail);
	if (!message)
		return fail(r, JOB_TRANSIENT, "out of memory");
	if (cfg->smtp_url)
		send_smtp(cfg, from_addr, to, message, r);
	else
		send_maildir(message, r);
	free(message);
	const char *status = r->outcome == JOB_SUCCEEDED   ? "sent"
	                     : r->outcome == JOB_PERMANENT ? "failed"
	                                                   : "queued";
	const char *upd[] = {message_id, status, r->provider_ref};
	if (db_exec(conn, sql_sent, 3, upd, &err) < 0 && r->outcome == JOB_SUCCEEDED) {
		/* Sent, but not recorded: the attempt still succeeded; the job's own record says
		 * so, and the message row will read queued. */
		snprintf(r->error, sizeof(r->error), "sent; the message row was not updated");
	}
}
