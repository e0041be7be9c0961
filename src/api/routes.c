/*
 * routes.c — every route of the HTTP API in one table. Adding a route is adding a line here
 * and a handler in the file of its noun.
 */
#include "app.h"

/* Stripe's events are a few kB; the largest (a session with many line items) stay far below. */
#define STRIPE_WEBHOOK_MAX_BODY (256u * 1024u)

/* A reading may carry a 20,000-character answer (up to 80 kB of UTF-8, more once escaped). */
#define READING_MAX_BODY (256u * 1024u)

const struct http_route api_routes[] = {
        {"GET", "/healthz", api_healthz, 0},
        {"GET", "/readyz", api_readyz, 0},
        {"GET", "/metrics", api_metrics, 0},
        {"POST", "/v1/readings", api_readings_create, READING_MAX_BODY},
        {"GET", "/v1/readings/{id}", api_readings_get, 0},
        {"POST", "/v1/readings/{id}/artifacts", api_artifacts_request, 0},
        {"GET", "/v1/artifacts/{id}", api_artifacts_get, 0},
        {"GET", "/v1/artifacts/{id}/file", api_artifacts_file, 0},
        {"GET", "/share/{token}", api_share, 0},
        {"GET", "/gift/{token}", api_gift, 0},
        {"POST", "/v1/stripe/webhook", api_stripe_webhook, STRIPE_WEBHOOK_MAX_BODY},
        {"POST", "/v1/checkout", api_checkout_open, 0},
        {"POST", "/v1/checkout/{session_id}/confirm", api_checkout_confirm, 0},
        {"GET", "/v1/entitlements", api_entitlements_list, 0},
        {"GET", "/v1/unlock", api_unlock, 0},
        {"POST", "/v1/consents", api_consents_record, 0},
        {"GET", "/v1/consents", api_consents_current, 0},
        {"GET", "/v1/consents/history", api_consents_history, 0},
        {"GET", "/v1/passport", api_passport_get, 0},
        {"POST", "/v1/echoes", api_echoes_schedule, 0},
        {"POST", "/v1/council", api_council_record, 0},
        {"POST", "/v1/oracle/readings", api_oracle_reading, READING_MAX_BODY},
        {"POST", "/v1/oracle/echoes", api_oracle_echo, 0},
        {"POST", "/v1/oracle/council", api_oracle_council, 0},
        {"POST", "/v1/privacy/export", api_privacy_export, 0},
        {"POST", "/v1/privacy/deletion", api_privacy_deletion, 0},
        {"GET", "/v1/privacy/requests/{id}", api_privacy_request, 0},
        {"POST", "/v1/privacy/requests/{id}/cancel", api_privacy_cancel, 0},
        {"GET", "/v1/privacy/requests/{id}/archive", api_privacy_archive, 0},
        {"GET", "/v1/admin/jobs", api_admin_jobs_list, 0},
        {"GET", "/v1/admin/jobs/{id}", api_admin_jobs_show, 0},
        {"POST", "/v1/admin/jobs/{id}/retry", api_admin_jobs_retry, 0},
        {"GET", "/v1/admin/audit", api_admin_audit_list, 0},
        {"GET", "/v1/lab/plan", api_lab_plan, 0},
        {"GET", "/lab", api_lab_page, 0},
        {"GET", "/lab/{file}", api_lab_asset, 0},
};
const size_t api_route_count = sizeof(api_routes) / sizeof(api_routes[0]);
