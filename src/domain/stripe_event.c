/*
 * stripe_event.c — storing verified Stripe events (see stripe_event.h).
 */
#include "stripe_event.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/db.h"
#include "core/json.h"
#include "jobs/queue.h"

static const char *const handled_types[] = {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
        "charge.refunded",
        "refund.failed",
        "charge.dispute.created",
        "charge.dispute.closed",
};

bool stripe_event_handled(const char *type)
{
	for (size_t i = 0; i < sizeof(handled_types) / sizeof(handled_types[0]); i++)
		if (strcmp(type, handled_types[i]) == 0)
			return true;
	return false;
}

/* One statement, its own transaction, for the whole batch (a round trip is dear when the
 * cores are busy, so there is no BEGIN and no COMMIT to send): the events travel as one JSON
 * array of {"n": deliveries, "status": …, "event": the raw event} (the raw text is spliced in
 * as it came, never re-serialized, and parsed once, by PostgreSQL).
 *
 * The new events a worker must process get one stripe_event_job for the batch, listing them
 * (idempotent on the first one's row id, which no earlier batch can have held: an event id
 * may be longer than a job's key may be): a job is three
 * writes of a row with eight indexes, dearer than an event's own row, and the worker
 * processes a job's events together anyway. It is inserted here as scrollkeep.enqueue_jobs
 * would (the kind's attempts, the idempotency key), because at this rate a plpgsql call costs
 * more than the rows themselves; the workers are woken after the commit (queue_wake).
 *
 * A batch of repeats only counts up: the events themselves are durable already (their first
 * delivery's commit waited for the disk), so its commit need not wait (a crash may lose a
 * count, never an event); set_config(…, true) lasts to the end of the statement's
 * transaction, its commit included. */
static const char *const sql_store =
        "WITH input AS ("
        "  SELECT (b->>'n')::integer AS n, b->>'status' AS status, b->'event' AS e, i"
        "    FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(b, i)"
        "), stored AS ("
        "  INSERT INTO public.stripe_events (stripe_event_id, type, livemode, api_version,"
        "                                    object_id, stripe_created_at, payload, status,"
        "                                    received_count)"
        "  SELECT e->>'id', e->>'type', (e->>'livemode')::boolean,"
        "         CASE WHEN jsonb_typeof(e->'api_version') = 'string'"
        "               AND char_length(e->>'api_version') BETWEEN 1 AND 40"
        "              THEN e->>'api_version' END,"
        "         CASE WHEN jsonb_typeof(e#>'{data,object,id}') = 'string'"
        "               AND char_length(e#>>'{data,object,id}') BETWEEN 1 AND 255"
        "              THEN e#>>'{data,object,id}' END,"
        "         to_timestamp((e->>'created')::bigint), e, status, n"
        "    FROM input ORDER BY i"
        "  ON CONFLICT (stripe_event_id) DO UPDATE"
        "    SET received_count = public.stripe_events.received_count + excluded.received_count,"
        "        last_received_at = now()"
        "  RETURNING id, stripe_event_id, status, (xmax <> 0) AS duplicate"
        "), jobs AS ("
        "  INSERT INTO public.delivery_jobs (kind, payload, idempotency_key, max_attempts)"
        "  SELECT k.kind, jsonb_build_object('stripe_events', jsonb_agg(s.id ORDER BY s.id)),"
        "         'stripe-event:' || min(s.id), k.max_attempts"
        "    FROM stored s JOIN scrollkeep.job_kinds k ON k.kind = 'stripe_event_job'"
        "   WHERE NOT s.duplicate AND s.status = 'received'"
        "   GROUP BY k.kind, k.max_attempts"
        "  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
        "  RETURNING id"
        ")"
        "SELECT stripe_event_id, id, status, duplicate, (SELECT count(*) FROM jobs),"
        "       CASE WHEN bool_and(duplicate) OVER ()"
        "            THEN set_config('synchronous_commit', 'off', true) END"
        "  FROM stored";

int stripe_event_prepare(PGconn *conn, struct sk_err *err)
{
	return db_prepare(conn, "stripe_event_store", sql_store, 1, err);
}

/* stripe_events' own checks, made here so that a bad event is refused alone instead of
 * failing the batch it arrived with. */
static bool valid_event_id(const char *id)
{
	size_t n = strlen(id);
	if (n < 5 || n > 254 || strncmp(id, "evt_", 4) != 0)
		return false;
	for (const char *c = id + 4; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			return false;
	return true;
}

/* ^[a-z_]+(\.[a-z_]+)+$, at most 100 characters. */
static bool valid_type(const char *type)
{
	size_t n = strlen(type);
	if (n == 0 || n > 100 || type[0] == '.' || type[n - 1] == '.' || !strchr(type, '.'))
		return false;
	for (const char *c = type; *c; c++)
		if (!(islower((unsigned char)*c) || *c == '_' || (*c == '.' && c[1] != '.')))
			return false;
	return true;
}

int stripe_event_parse(const char *raw, size_t len, struct stripe_event_in *ev, struct sk_err *err)
{
	memset(ev, 0, sizeof(*ev));
	json_error_t jerr;
	json_t *root = raw ? json_loadb(raw, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!json_is_object(root)) {
		json_decref(root);
		return err_set(err, PROBLEM_INVALID_JSON, "the event is not a JSON object");
	}
	const char *id = json_str(root, "id");
	const char *type = json_str(root, "type");
	const char *object = json_str(root, "object");
	json_t *data_object = json_object_get(json_object_get(root, "data"), "object");
	json_t *created = json_object_get(root, "created");
	int rc = 0;
	if (!id || !valid_event_id(id) || !type || !valid_type(type) || !object ||
	    strcmp(object, "event") != 0 || !json_is_boolean(json_object_get(root, "livemode")) ||
	    !json_is_integer(created) || json_integer_value(created) < 0 ||
	    json_integer_value(created) > 32503680000LL /* year 3000 */ ||
	    !json_is_object(data_object)) {
		rc = err_set(err, PROBLEM_INVALID_BODY, "not a Stripe event");
	} else {
		ev->raw = raw;
		ev->len = len;
		snprintf(ev->event_id, sizeof(ev->event_id), "%s", id);
		ev->status = stripe_event_handled(type) ? "received" : "ignored";
	}
	json_decref(root);
	return rc;
}

struct distinct_event {
	const struct stripe_event_in *ev; /* its first delivery in the batch */
	int deliveries;
};

static int by_event_id(const void *a, const void *b)
{
	return strcmp(((const struct distinct_event *)a)->ev->event_id,
	              ((const struct distinct_event *)b)->ev->event_id);
}

/* The batch as the statement's JSON array: one element per distinct event id, with the count
 * of its deliveries, in event-id order (the order its rows are locked in: two batches written
 * at once wait on each other's rows in the same order, so never deadlock). NULL on allocation
 * failure. */
static char *batch_json(const struct stripe_event_in *const *evs, size_t n)
{
	struct distinct_event *d = calloc(n, sizeof(*d));
	if (!d)
		return NULL;
	size_t nd = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < nd && strcmp(d[k].ev->event_id, evs[i]->event_id) != 0)
			k++;
		if (k == nd)
			d[nd++].ev = evs[i];
		d[k].deliveries++;
	}
	qsort(d, nd, sizeof(*d), by_event_id);
	struct buf b = {0};
	buf_puts(&b, "[");
	for (size_t k = 0; k < nd; k++) {
		buf_printf(&b, "%s{\"n\":%d,\"status\":\"%s\",\"event\":", k ? "," : "",
		           d[k].deliveries, d[k].ev->status);
		buf_append(&b, d[k].ev->raw, d[k].ev->len);
		buf_puts(&b, "}");
	}
	buf_puts(&b, "]");
	free(d);
	return buf_take(&b);
}

static void read_row(const PGresult *res, int row, struct stripe_stored *out)
{
	snprintf(out->event_id, sizeof(out->event_id), "%s", PQgetvalue(res, row, 0));
	out->row_id = atoll(PQgetvalue(res, row, 1));
	snprintf(out->status, sizeof(out->status), "%s", PQgetvalue(res, row, 2));
	out->duplicate = strcmp(PQgetvalue(res, row, 3), "t") == 0;
}

/* Map the statement's rows back to the deliveries. */
static int read_rows(const PGresult *res, const struct stripe_event_in *const *evs, size_t n,
                     struct stripe_stored *out, struct sk_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int row = 0;
		while (row < PQntuples(res) &&
		       strcmp(PQgetvalue(res, row, 0), evs[i]->event_id) != 0)
			row++;
		if (row == PQntuples(res))
			return err_set(err, PROBLEM_INTERNAL,
			               "an event of the batch was not stored");
		read_row(res, row, &out[i]);
		/* Within a batch only the first delivery of an event is the new one. */
		for (size_t j = 0; j < i && !out[i].duplicate; j++)
			if (strcmp(evs[j]->event_id, evs[i]->event_id) == 0)
				out[i].duplicate = true;
	}
	return 0;
}

int stripe_event_store(PGconn *conn, const struct stripe_event_in *const *evs, size_t n,
                       struct stripe_stored *out, struct sk_err *err)
{
	if (n == 0)
		return 0;
	char *batch = batch_json(evs, n);
	if (!batch)
		return err_set(err, PROBLEM_INTERNAL, "out of memory");
	const char *params[] = {batch};
	PGresult *res = db_query_prepared(conn, "stripe_event_store", 1, params, err);
	free(batch);
	int rc = res ? read_rows(res, evs, n, out, err) : -1;
	bool jobs = rc == 0 && PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 4), "0") != 0;
	PQclear(res);
	if (jobs) {
		struct sk_err ignored; /* the events are stored: the workers' polling finds them */
		queue_wake(conn, "stripe_event_job", &ignored);
	}
	return rc;
}
