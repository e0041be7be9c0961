/*
 * verify.h — `scrollkeep verify`: the operator handbook's checks against real data, each
 * named, with a count and the ids to look at. Any finding makes the command exit 1.
 *
 * Checks so far:
 *   orphan_artifact  artifacts whose file is missing or no longer matches its sha256, and
 *                    files in the store that no row points to (older than an hour: younger
 *                    ones may belong to a render still committing)
 *   privacy_deadline deletion requests and data exports still owed that are past their legal
 *                    due date, or due within a week (privacy.h)
 *   audit_chain      the first row of the operator's trail that does not hold (audit.h)
 */
#ifndef SK_VERIFY_H
#define SK_VERIFY_H

#include <jansson.h>
#include <libpq-fe.h>

#include "core/config.h"
#include "core/err.h"

/* Run every check on conn (service_role). Returns {"checks": [{"name", "count", "items"}],
 * "findings"} (the caller decrefs), or NULL on a database error. */
json_t *verify_run(PGconn *conn, const struct config *cfg, struct sk_err *err);

#endif
