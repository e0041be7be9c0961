/*
 * metrics.h — counters for GET /metrics (Prometheus text format 0.0.4).
 *
 * A counter is a name and up to METRICS_MAX_LABELS labels; series are created on first use (up to
 * METRICS_MAX_SERIES, then ignored) and only ever count up. Names and label values are the
 * code's own constants, never anything a request carried, so no personal data can reach a
 * metric.
 */
#ifndef SK_METRICS_H
#define SK_METRICS_H

#include <stddef.h>

#define METRICS_MAX_SERIES 512
#define METRICS_MAX_LABELS 3

/* Count one for name{label="value"} (label NULL: no label). name, label and value must be
 * string literals (kept by pointer). */
void metrics_count(const char *name, const char *help, const char *label, const char *value);

/* Count one for name{labels[0]="values[0]",…} (n at most METRICS_MAX_LABELS); the same rule:
 * literals only. */
void metrics_count_labels(const char *name, const char *help, size_t n, const char *const *labels,
                          const char *const *values);

/* An HTTP status as a literal label value ("200", …), "other" for one not listed. */
const char *metrics_status_label(int status);

/* The exposition text (the caller frees it), or NULL. */
char *metrics_render(void);

#endif
