/*
 * app.h — what every route handler can reach: the configuration, the database pool and the
 * migrations this server expects to find applied. Built once by `scrollkeep serve`.
 */
#ifndef SK_APP_H
#define SK_APP_H

#include <jansson.h>
#include <stdbool.h>

#include "core/config.h"
#include "core/db.h"
#include "core/http.h"
#include "domain/migrate.h"
#include "domain/stripe_ingest.h"

#define LAB_FILES 3 /* index.html, lab.js, lab.css */

struct app {
	const struct config *cfg;
	struct db_pool *pool;
	struct stripe_ingest *stripe_ingest; /* the webhook's group commit */
	struct migration_set expected;       /* read from SCROLLKEEP_MIGRATIONS_DIR at start-up */
	bool expected_known;
	/* The persistence lab, read at start-up (lab.c): its catalog and page, or why not. */
	json_t *lab_catalog;
	char *lab_files[LAB_FILES];
	size_t lab_lens[LAB_FILES];
	char lab_problem[256];
};

/* The route table (routes.c). */
extern const struct http_route api_routes[];
extern const size_t api_route_count;

/* health.c */
void api_healthz(struct http_request *req, struct http_response *res);
void api_readyz(struct http_request *req, struct http_response *res);

/* readings.c */
void api_readings_create(struct http_request *req, struct http_response *res);
void api_readings_get(struct http_request *req, struct http_response *res);

/* consents.c */
void api_consents_record(struct http_request *req, struct http_response *res);
void api_consents_current(struct http_request *req, struct http_response *res);
void api_consents_history(struct http_request *req, struct http_response *res);

/* premium.c */
void api_passport_get(struct http_request *req, struct http_response *res);
void api_echoes_schedule(struct http_request *req, struct http_response *res);
void api_council_record(struct http_request *req, struct http_response *res);
void api_oracle_reading(struct http_request *req, struct http_response *res);
void api_oracle_echo(struct http_request *req, struct http_response *res);
void api_oracle_council(struct http_request *req, struct http_response *res);
void api_privacy_export(struct http_request *req, struct http_response *res);
void api_privacy_deletion(struct http_request *req, struct http_response *res);
void api_privacy_request(struct http_request *req, struct http_response *res);
void api_privacy_cancel(struct http_request *req, struct http_response *res);
void api_privacy_archive(struct http_request *req, struct http_response *res);

/* lab.c */
void api_lab_load(struct app *app);
void api_lab_free(struct app *app);
void api_lab_plan(struct http_request *req, struct http_response *res);
void api_lab_page(struct http_request *req, struct http_response *res);
void api_lab_asset(struct http_request *req, struct http_response *res);

/* admin.c */
void api_admin_jobs_list(struct http_request *req, struct http_response *res);
void api_admin_jobs_show(struct http_request *req, struct http_response *res);
void api_admin_jobs_retry(struct http_request *req, struct http_response *res);
void api_admin_audit_list(struct http_request *req, struct http_response *res);

/* artifacts.c */
void api_artifacts_request(struct http_request *req, struct http_response *res);
void api_artifacts_get(struct http_request *req, struct http_response *res);
void api_artifacts_file(struct http_request *req, struct http_response *res);

/* share.c */
void api_share(struct http_request *req, struct http_response *res);
void api_stripe_webhook(struct http_request *req, struct http_response *res);
void api_metrics(struct http_request *req, struct http_response *res);
void api_checkout_open(struct http_request *req, struct http_response *res);
void api_checkout_confirm(struct http_request *req, struct http_response *res);
void api_entitlements_list(struct http_request *req, struct http_response *res);
void api_unlock(struct http_request *req, struct http_response *res);
void api_gift(struct http_request *req, struct http_response *res);

#endif
