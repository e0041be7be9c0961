/*
 * gauges.h — what /metrics reads from the database at each scrape: jobs by kind and status,
 * the age of the oldest ready job and of the oldest unknown one, the last backup and the last
 * passed drill (from their audit events), and the data-subject deletions pending and overdue.
 * Label values are job kinds and statuses, which the schema constrains to [a-z_]; nothing a
 * person wrote can become a label.
 */
#ifndef SK_GAUGES_H
#define SK_GAUGES_H

#include <libpq-fe.h>

#include "core/buf.h"
#include "core/err.h"

/* Append the gauges in Prometheus text format to out, in the caller's service_role
 * transaction. */
int gauges_render(PGconn *conn, struct buf *out, struct sk_err *err);

#endif
