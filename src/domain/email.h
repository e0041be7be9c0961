/*
 * email.h — e-mail that never exposes the question.
 *
 * Every message comes from a template (receipt, artifact_ready, gift, echo, access_recovery),
 * in plain text and HTML, whose placeholders take ids, links and the few words a template
 * needs — every value escaped for the part it lands in. Subjects are the templates' own; no
 * subject or body ever holds a question or an answer: they link to the private view on
 * NEXT_PUBLIC_SITE_URL instead.
 *
 * The recipient's address is looked up when the message is sent (the person's, or a gift
 * recipient's) and never copied into a job, a log or email_messages. The Message-ID is fixed
 * per delivery job, so a resend of the same delivery is recognisable as one. Mail goes to
 * SMTP_URL through libcurl (smtps:// for TLS, ?starttls=required for STARTTLS), or, when
 * SMTP_URL is unset, into a local maildir (SCROLLKEEP_MAILDIR, default .var/mail) that any
 * mail client reads: never silently dropped.
 */
#ifndef SK_EMAIL_H
#define SK_EMAIL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "jobs/queue.h"

/* A template's placeholder and its value ({{key}} in the template). */
struct email_value {
	const char *key;
	const char *value;
};

struct email_message {
	const char *template_name;  /* receipt, artifact_ready, gift, echo, access_recovery */
	const char *recipient_kind; /* person or gift_recipient */
	const char *recipient_ref;  /* the user id, or the gift artifact's id */
	const char *user_id;        /* whom the message concerns (email_messages.user_id) */
	const struct email_value *values;
	size_t nvalues;
};

/* A rendered message (the caller frees each field with email_rendered_free). */
struct email_rendered {
	char *subject;
	char *text;
	char *html;
};

/* Render a template with values. Returns -1 for an unknown template. */
int email_render(const char *template_name, const struct email_value *values, size_t n,
                 struct email_rendered *out, struct sk_err *err);
void email_rendered_free(struct email_rendered *r);

/* Substitute {{key}} placeholders in tmpl; values are HTML-escaped when html. Unknown keys
 * become empty. Returns the text (the caller frees it) or NULL. Exposed for tests and fuzzing. */
char *email_fill(const char *tmpl, const struct email_value *values, size_t n, int html);

/* Build the whole RFC 5322 message (headers and a multipart/alternative body in base64). */
char *email_compose(const char *from, const char *to, const char *message_id, const char *date,
                    const struct email_rendered *r);

/* Deliver msg for job (run by a handler, on its connection as service_role): look the address
 * up, record the email_messages row, send, record the reply. Fills result: succeeded (also
 * when this delivery was sent already), transient (4xx, timeouts), provider_down (the server
 * cannot be reached), permanent (5xx, or no address any more). */
void email_deliver(PGconn *conn, const struct config *cfg, const struct queue_job *job,
                   const struct email_message *msg, struct queue_result *result);

#endif
