/*
 * handlers_common.h — what the handlers share: reading ids from a payload, failing with a
 * reason, links on the site, and the handlers themselves (listed in handlers.c).
 */
#ifndef SK_HANDLERS_COMMON_H
#define SK_HANDLERS_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "domain/artifact.h"
#include "jobs/handler.h"

/* The UUID at key of the job's payload, lower-cased into out; false when absent. */
bool job_payload_uuid(const struct queue_job *job, const char *key, char out[37]);

/* Set the outcome and its reason. */
void job_fail(struct queue_result *r, enum job_outcome outcome, const char *why);

/* NEXT_PUBLIC_SITE_URL + path (no doubled slash) into out. */
void site_link(const struct config *cfg, char *out, size_t len, const char *path);

/* Open a transaction and load (locked) the artifact the payload's artifact_id names, into
 * doc and id. false: r says why (and nothing is left open); true: the caller commits or rolls
 * back, and frees doc. */
bool job_open_artifact(struct job_env *env, const struct queue_job *job, bool with_private,
                       char id[37], struct artifact_doc *doc, struct queue_result *r);

/* Whether purpose is granted to user now; false too when the database cannot say. */
bool job_consent_granted(struct job_env *env, const char *user_id, const char *purpose);

void handle_render(struct job_env *env, const struct queue_job *job, struct queue_result *r);
void handle_gift(struct job_env *env, const struct queue_job *job, struct queue_result *r);
void handle_artifact_ready_email(struct job_env *env, const struct queue_job *job,
                                 struct queue_result *r);
void handle_echo(struct job_env *env, const struct queue_job *job, struct queue_result *r);
void handle_recovery_email(struct job_env *env, const struct queue_job *job,
                           struct queue_result *r);
void handle_receipt_email(struct job_env *env, const struct queue_job *job, struct queue_result *r);
void handle_privacy_export(struct job_env *env, const struct queue_job *job,
                           struct queue_result *r);
void handle_privacy_deletion(struct job_env *env, const struct queue_job *job,
                             struct queue_result *r);
void handle_stripe_event(struct job_env *env, const struct queue_job *job, struct queue_result *r);
void handle_stripe_events(struct job_env *env, const struct queue_job *const *jobs,
                          struct queue_result *const *results, int n);

#endif
