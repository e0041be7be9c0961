/*
 * stripe_event.c — storing verified Stripe events (see stripe_event.h).
 */
#include "stripe_event.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl_parse.h>

#include "core/buf.h"
#include "core/db.h"
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

/* ---- reading an event ----
 *
 * The body is scanned with yajl's event parser instead of built into a jansson tree: the
 * webhook needs six of its fields, and the tree cost an allocation per value (half of the
 * server's CPU for a repeat delivery). The scan keeps what the checks need, and refuses, as
 * jansson did, anything that is not one JSON object, a key given twice in the event or in its
 * data (PostgreSQL would keep the last), and nesting deeper than 2048. A key repeated deeper
 * (jansson refused that too) is let through, and jsonb keeps its last value: the signature
 * has said who sent the body, and only the event's own fields are read here. */

enum { MAX_DEPTH = 2048, MAX_KEYS = 64 };

/* The top-level keys the webhook reads. */
enum top_key { K_OTHER, K_ID, K_TYPE, K_OBJECT, K_LIVEMODE, K_CREATED, K_DATA };

struct key_set { /* the keys of one object, by hash (64 at most: an event has a dozen) */
	uint64_t hash[MAX_KEYS];
	int n;
};

struct scan {
	int depth;         /* maps and arrays open */
	bool root_map;     /* the document is an object */
	bool in_data;      /* inside the top-level "data" object */
	bool repeated;     /* a key given twice, too many keys, or nesting too deep */
	enum top_key next; /* the top-level key whose value comes next */
	bool data_next;    /* inside data: the next value is data.object */
	struct key_set top, data;
	/* what was found */
	char id[256], type[101];
	bool id_ok, type_ok, object_event, livemode, created_ok, data_object;
	long long created;
};

static uint64_t key_hash(const unsigned char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h;
}

/* Add the key to set; false (the scan refused) when it is there already or the set is full. */
static bool key_new(struct scan *sc, struct key_set *set, const unsigned char *key, size_t len)
{
	uint64_t h = key_hash(key, len);
	bool seen = set->n == MAX_KEYS;
	for (int i = 0; i < set->n && !seen; i++)
		seen = set->hash[i] == h;
	if (seen) {
		sc->repeated = true;
		return false;
	}
	set->hash[set->n++] = h;
	return true;
}

static bool key_is(const unsigned char *key, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(key, name, len) == 0;
}

/* The top-level key (at depth 1) or data's (at depth 2, in data) a value at the current depth
 * belongs to, taken as the value begins. */
static enum top_key value_of(struct scan *sc, bool *is_data_object)
{
	*is_data_object = false;
	if (sc->depth == 1) {
		enum top_key k = sc->next;
		sc->next = K_OTHER;
		return k;
	}
	if (sc->depth == 2 && sc->in_data) {
		*is_data_object = sc->data_next;
		sc->data_next = false;
	}
	return K_OTHER;
}

static void copy_string(char *dst, size_t cap, bool *ok, const unsigned char *s, size_t len)
{
	*ok = len < cap && !memchr(s, '\0', len);
	if (*ok) {
		memcpy(dst, s, len);
		dst[len] = '\0';
	}
}

static int on_scalar(struct scan *sc)
{
	bool data_object;
	value_of(sc, &data_object);
	return 1;
}

static int on_null(void *ctx)
{
	return on_scalar(ctx);
}

static int on_boolean(void *ctx, int value)
{
	struct scan *sc = ctx;
	(void)value;
	bool data_object;
	if (value_of(sc, &data_object) == K_LIVEMODE)
		sc->livemode = true;
	return 1;
}

static int on_integer(void *ctx, long long value)
{
	struct scan *sc = ctx;
	bool data_object;
	if (value_of(sc, &data_object) == K_CREATED) {
		sc->created_ok = true;
		sc->created = value;
	}
	return 1;
}

static int on_double(void *ctx, double value)
{
	(void)value;
	return on_scalar(ctx);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
	struct scan *sc = ctx;
	bool data_object;
	switch (value_of(sc, &data_object)) {
	case K_ID:
		copy_string(sc->id, sizeof(sc->id), &sc->id_ok, s, len);
		break;
	case K_TYPE:
		copy_string(sc->type, sizeof(sc->type), &sc->type_ok, s, len);
		break;
	case K_OBJECT:
		sc->object_event = key_is(s, len, "event");
		break;
	default:
		break;
	}
	return 1;
}

/* One level deeper; 0 (the scan refused) beyond MAX_DEPTH. */
static int deeper(struct scan *sc)
{
	if (++sc->depth <= MAX_DEPTH)
		return 1;
	sc->repeated = true;
	return 0;
}

static int on_start_map(void *ctx)
{
	struct scan *sc = ctx;
	bool data_object;
	if (sc->depth == 0)
		sc->root_map = true;
	else if (value_of(sc, &data_object) == K_DATA)
		sc->in_data = true;
	else if (data_object)
		sc->data_object = true;
	return deeper(sc);
}

static int on_end_map(void *ctx)
{
	struct scan *sc = ctx;
	if (--sc->depth == 1)
		sc->in_data = false;
	return 1;
}

static int on_start_array(void *ctx)
{
	struct scan *sc = ctx;
	bool data_object;
	if (sc->depth > 0)
		value_of(sc, &data_object);
	return deeper(sc);
}

static int on_end_array(void *ctx)
{
	((struct scan *)ctx)->depth--;
	return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
	struct scan *sc = ctx;
	if (sc->depth == 1) {
		if (!key_new(sc, &sc->top, key, len))
			return 0;
		sc->next = key_is(key, len, "id")         ? K_ID
		           : key_is(key, len, "type")     ? K_TYPE
		           : key_is(key, len, "object")   ? K_OBJECT
		           : key_is(key, len, "livemode") ? K_LIVEMODE
		           : key_is(key, len, "created")  ? K_CREATED
		           : key_is(key, len, "data")     ? K_DATA
		                                          : K_OTHER;
	} else if (sc->depth == 2 && sc->in_data) {
		if (!key_new(sc, &sc->data, key, len))
			return 0;
		sc->data_next = key_is(key, len, "object");
	}
	return 1;
}

static const yajl_callbacks scan_callbacks = {
        .yajl_null = on_null,
        .yajl_boolean = on_boolean,
        .yajl_integer = on_integer,
        .yajl_double = on_double,
        .yajl_string = on_string,
        .yajl_start_map = on_start_map,
        .yajl_map_key = on_map_key,
        .yajl_end_map = on_end_map,
        .yajl_start_array = on_start_array,
        .yajl_end_array = on_end_array,
};

/* Scan raw into sc; false when it is not one well-formed JSON object with its keys once. */
static bool scan_event(const char *raw, size_t len, struct scan *sc)
{
	yajl_handle h = yajl_alloc(&scan_callbacks, NULL, sc);
	if (!h)
		return false;
	bool ok = yajl_parse(h, (const unsigned char *)raw, len) == yajl_status_ok &&
	          yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	return ok && sc->root_map && !sc->repeated;
}

int stripe_event_parse(const char *raw, size_t len, struct stripe_event_in *ev, struct sk_err *err)
{
	memset(ev, 0, sizeof(*ev));
	struct scan scanned = {0}, *sc = &scanned;
	int rc = 0;
	if (!raw || !scan_event(raw, len, sc))
		rc = err_set(err, PROBLEM_INVALID_JSON, "the event is not a JSON object");
	else if (!sc->id_ok || !valid_event_id(sc->id) || !sc->type_ok || !valid_type(sc->type) ||
	         !sc->object_event || !sc->livemode || !sc->created_ok || sc->created < 0 ||
	         sc->created > 32503680000LL /* year 3000 */ || !sc->data_object)
		rc = err_set(err, PROBLEM_INVALID_BODY, "not a Stripe event");
	else {
		ev->raw = raw;
		ev->len = len;
		_Static_assert(sizeof(ev->event_id) == sizeof(sc->id), "an id fits the event's");
		memcpy(ev->event_id, sc->id, sizeof(ev->event_id)); /* NUL-terminated by the scan */
		ev->status = stripe_event_handled(sc->type) ? "received" : "ignored";
	}
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
