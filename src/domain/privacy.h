/*
 * privacy.h — the data-subject requests (deletion_requests, data_exports) and their legal
 * deadlines: a month from the request, extended by up to two months only with a recorded
 * reason. `verify` lists and `doctor` counts every open request that is overdue or due within
 * PRIVACY_DUE_SOON_DAYS, so none is noticed only once it is late.
 */
#ifndef SK_PRIVACY_H
#define SK_PRIVACY_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/err.h"

#define PRIVACY_DUE_SOON_DAYS 7

/* Append to items one {"problem": "overdue" | "due_soon", "id": "deletion_request:UUID" |
 * "data_export:UUID", "due": time} per open request that needs attention, soonest first
 * (conn as service_role). */
int privacy_deadlines(PGconn *conn, json_t *items, struct sk_err *err);

#endif
