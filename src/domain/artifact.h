/*
 * artifact.h — oracle artifacts: a reading's pdf, private_pdf, share_card, gift and print_view,
 * each a deliverable entity with its own row, status and job.
 *
 * Asking for an artifact creates its oracle_artifacts row and enqueues its render or delivery
 * job in one transaction, idempotently: asking twice for a reading's pdf returns the same
 * artifact, and asking twice for a gift to the same address returns the same gift. A share
 * card gets its unguessable share token at once, which needs public_share; a gift needs
 * gift_delivery, and its recipient is stored in gift_recipients only.
 */
#ifndef SK_ARTIFACT_H
#define SK_ARTIFACT_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/buf.h"
#include "core/err.h"
#include "domain/render.h"

/* Validate a POST /v1/readings/{id}/artifacts body: {"kind", "gift"?: {"email", "name"?,
 * "message"?}} (gift is required for, and only for, kind gift). */
int artifact_validate(const json_t *body, struct sk_err *err);

/* Request an artifact of the person's reading. Returns {"id", "kind", "status", "job"?}
 * (job is absent for print_view, which is rendered when it is opened). */
json_t *artifact_request(PGconn *conn, const char *user_id, const char *reading_id,
                         const json_t *body, struct sk_err *err);

/* The person's artifact and its delivery status, or PROBLEM_NOT_FOUND. */
json_t *artifact_get(PGconn *conn, const char *user_id, const char *artifact_id,
                     struct sk_err *err);

/* The job kind that renders or delivers an artifact kind, or NULL (print_view). */
const char *artifact_job_kind(const char *kind);

/* An artifact with what its documents need: the public fields it was requested with (the
 * allow-listed snapshot in public_fields) and, for private kinds, the reading's question and
 * answer. */
struct artifact_doc {
	char id[37], user_id[37], reading_id[37], kind[16], status[16];
	char gift_token[48];
	json_t *fields; /* public_fields */
	struct render_spread_card cards[RENDER_MAX_CARDS];
	struct render_public pub; /* points into fields and cards */
	char *question, *answer;  /* NULL unless loaded with the private text */
};

/* Load artifact id (locking its row when lock) as the connection's role. with_private also
 * reads the reading's question and answer (only for the owner's private kinds). Returns -1
 * with PROBLEM_NOT_FOUND when there is no such artifact (or its reading was anonymized). */
int artifact_load_doc(PGconn *conn, const char *id, bool with_private, bool lock,
                      struct artifact_doc *doc, struct sk_err *err);
void artifact_doc_free(struct artifact_doc *doc);

/* Render the artifact's file: its bytes, extension and media type. */
int artifact_render(const struct artifact_doc *doc, struct buf *out, const char **ext,
                    const char **content_type, struct sk_err *err);

#endif
