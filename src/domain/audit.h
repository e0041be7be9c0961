/*
 * audit.h — the operator's trail (admin_audit_events): append-only and hash-chained by the
 * database itself (the chain trigger takes an advisory lock and numbers the row).
 *
 * Events carry who (an operator handle, "service" or "system"), what (noun.verb), the ids of
 * what was acted on, the operator's reason, and details that are ids and counts. Never a
 * question, an answer, an e-mail address or a name: the database refuses what looks like an
 * address, and callers pass ids only.
 */
#ifndef SK_AUDIT_H
#define SK_AUDIT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "core/err.h"

struct audit_event {
	const char *actor;        /* [a-z0-9][a-z0-9._:-]{0,79} */
	const char *actor_role;   /* operator, service, system or person */
	const char *action;       /* noun.verb, e.g. job.retry */
	const char *subject_type; /* e.g. delivery_job, or NULL */
	const char *subject_id;   /* or NULL */
	const char *reason;       /* or NULL */
	const json_t *details;    /* ids and counts, or NULL */
};

/* Append ev in the caller's transaction (running as service_role). */
int audit_append(PGconn *conn, const struct audit_event *ev, struct sk_err *err);

/* What to read of the trail: at most limit events (1 to 1000), of one action or all, with
 * chain_seq below before or above after (each 0 for no bound). Without after, the latest
 * events; with it, the earliest after it (what `audit tail --follow` has not printed yet). */
struct audit_filter {
	long long before;
	long long after;
	const char *action;
	int limit;
};

/* {"events": [… in chain order …]} as a service_role transaction sees them. Returns NULL with
 * PROBLEM_BAD_REQUEST for a filter out of range. */
json_t *audit_list(PGconn *conn, const struct audit_filter *f, struct sk_err *err);

/* The chain as scrollkeep.audit_chain_check() finds it. */
struct audit_chain {
	long long rows;
	long long head_seq; /* 0 when the trail is empty */
	char head_hash[65];
	long long broken_seq; /* 0 when every row holds */
	long long broken_id;
	char problem[8]; /* gap, link or hash */
};

/* Walk the whole chain (as service_role, in the caller's transaction). */
int audit_chain_check(PGconn *conn, struct audit_chain *out, struct sk_err *err);

/* Move the events the database recorded in its outboxes (payments, refunds, disputes,
 * entitlement changes, a statement's at a time; the privacy workflows' events one by one) into
 * the chain, oldest first, up to a thousand single events and fifteen statements' batches per
 * transaction; conn is a service_role session with no transaction open. The worker calls it
 * every few seconds. */
int audit_flush(PGconn *conn, int *moved, struct sk_err *err);

/* Whether action has the form the trail accepts (noun.verb). */
bool audit_action_valid(const char *action);

/* Whether actor has the form the trail accepts. */
bool audit_actor_valid(const char *actor);

/* An operator handle for the CLI: SCROLLKEEP_OPERATOR, else the login name, folded to the
 * accepted form ("operator" when nothing fits). */
void audit_default_actor(char *out, size_t len);

#endif
