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

#include "core/err.h"

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

#endif
