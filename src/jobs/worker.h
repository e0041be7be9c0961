/*
 * worker.h — `scrollkeep worker`: claim due jobs, run them on a bounded number of handler
 * threads, record how each attempt ended, keep leases alive, and return other workers'
 * expired leases.
 *
 * One dispatcher thread owns a connection that LISTENs on scrollkeep_jobs and runs the queue's
 * statements (claims, heartbeats, the reaper, retention); the recorder thread records results
 * in batches and the auditor thread moves the audit outbox into the chain, each on its own
 * connection; each handler thread has a connection of its own for its handler's work. A
 * notification wakes the dispatcher at once; polling every poll_ms finds what a lost notification
 * or a scheduled job leaves. When PostgreSQL goes away the dispatcher reconnects by itself and
 * results wait in memory.
 *
 * On SIGINT or SIGTERM the worker stops claiming, releases the jobs it holds but has not
 * started (nothing is spent), lets running handlers finish for up to grace_ms, records their
 * results and exits 0. A handler still running after that is abandoned: its lease expires and
 * the reaper of another worker applies the rules (an external kind goes to 'unknown').
 */
#ifndef SK_WORKER_H
#define SK_WORKER_H

#include <stdbool.h>

#include "core/config.h"
#include "core/err.h"

struct worker_options {
	const struct config *cfg;
	int concurrency;   /* handler threads */
	int batch;         /* most jobs per claim (0: four per thread, at most 256); the worker
	                    * holds two batches: one recorded while the next is claimed and run */
	bool once;         /* run what is due now, then exit */
	int poll_ms;       /* polling fallback for lost notifications and scheduled jobs */
	int grace_ms;      /* how long running handlers may finish after a stop */
	int reap_ms;       /* how often to look for expired leases and deadlines */
	const char *kinds; /* comma-separated kinds to claim (NULL: every kind with a handler),
	                    * so that, say, payments keep their own workers beside the e-mail's */
};

/* Fill opt with the defaults for cfg. */
void worker_defaults(struct worker_options *opt, const struct config *cfg);

/* Run until a stop signal (or, with once, until nothing is due and nothing is held).
 * Returns 0, or -1 with err filled when it cannot start (PROBLEM_USAGE: opt->kinds names a
 * kind without a handler). */
int worker_run(const struct worker_options *opt, struct sk_err *err);

#endif
