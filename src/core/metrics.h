/*
 * metrics.h — counters for GET /metrics (Prometheus text format 0.0.4).
 *
 * A counter is a name and at most one label; series are created on first use (up to
 * METRICS_MAX_SERIES, then ignored) and only ever count up. Names and label values are the
 * code's own constants, never anything a request carried, so no personal data can reach a
 * metric.
 */
#ifndef SK_METRICS_H
#define SK_METRICS_H

#define METRICS_MAX_SERIES 128

/* Count one for name{label="value"} (label NULL: no label). name, label and value must be
 * string literals (kept by pointer). */
void metrics_count(const char *name, const char *help, const char *label, const char *value);

/* The exposition text (the caller frees it), or NULL. */
char *metrics_render(void);

#endif
