/*
 * stripe_event.c — storing verified Stripe events (see stripe_event.h).
 */
#include "stripe_event.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char *const sql_store =
        "INSERT INTO public.stripe_events (stripe_event_id, type, livemode, api_version, object_id,"
        "                                  stripe_created_at, payload, status)"
        " VALUES ($1, $2, $3::boolean, nullif($4, ''), nullif($5, ''),"
        "         to_timestamp($6::bigint), $7::jsonb, $8)"
        " ON CONFLICT (stripe_event_id) DO UPDATE"
        "   SET received_count = public.stripe_events.received_count + 1, last_received_at = now()"
        " RETURNING id, status, (xmax <> 0) AS duplicate";

/* The fields an event must have, checked before anything is written. */
static int read_event(json_t *ev, const char **id, const char **type, bool *livemode,
                      json_int_t *created, const char **api_version, const char **object_id,
                      struct sk_err *err)
{
	json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
	*id = json_str(ev, "id");
	*type = json_str(ev, "type");
	*api_version = json_str(ev, "api_version");
	*object_id = json_str(obj, "id");
	json_t *live = json_object_get(ev, "livemode");
	json_t *when = json_object_get(ev, "created");
	if (!*id || strncmp(*id, "evt_", 4) != 0 || strlen(*id) > 254 || !*type ||
	    strlen(*type) > 100 || !json_is_boolean(live) || !json_is_integer(when) ||
	    !json_is_object(obj) ||
	    strcmp(json_str(ev, "object") ? json_str(ev, "object") : "", "event") != 0)
		return err_set(err, PROBLEM_INVALID_BODY, "not a Stripe event");
	*livemode = json_is_true(live);
	*created = json_integer_value(when);
	if (*api_version && strlen(*api_version) > 40)
		*api_version = NULL;
	if (*object_id && strlen(*object_id) > 255)
		*object_id = NULL;
	return 0;
}

int stripe_event_store(PGconn *conn, const char *raw, size_t len, struct stripe_stored *out,
                       struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	json_error_t jerr;
	json_t *ev = json_loadb(raw, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(ev)) {
		json_decref(ev);
		return err_set(err, PROBLEM_INVALID_JSON, "the event is not a JSON object");
	}
	const char *id, *type, *api_version, *object_id;
	bool livemode = false;
	json_int_t created = 0;
	if (read_event(ev, &id, &type, &livemode, &created, &api_version, &object_id, err) < 0) {
		json_decref(ev);
		return -1;
	}
	char created_s[24];
	snprintf(created_s, sizeof(created_s), "%lld", (long long)created);
	const char *status = stripe_event_handled(type) ? "received" : "ignored";
	char *payload = strndup(raw, len);
	const char *params[] = {id,
	                        type,
	                        livemode ? "true" : "false",
	                        api_version ? api_version : "",
	                        object_id ? object_id : "",
	                        created_s,
	                        payload,
	                        status};
	PGresult *res = payload ? db_query(conn, sql_store, 8, params, err) : NULL;
	free(payload);
	if (!res) {
		json_decref(ev);
		return -1;
	}
	out->row_id = atoll(PQgetvalue(res, 0, 0));
	snprintf(out->status, sizeof(out->status), "%s", PQgetvalue(res, 0, 1));
	out->duplicate = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	snprintf(out->event_id, sizeof(out->event_id), "%s", id);
	PQclear(res);
	json_decref(ev);
	/* A repeat only counts up: the event itself is durable already, so this commit need not
	 * wait for the disk (a crash may lose a count, never an event). */
	if (out->duplicate)
		return db_exec(conn, "SET LOCAL synchronous_commit = off", 0, NULL, err) < 0 ? -1
		                                                                             : 0;
	if (strcmp(out->status, "received") != 0)
		return 0;
	char key[280];
	snprintf(key, sizeof(key), "stripe-event:%s", out->event_id);
	json_t *job = json_pack("{s:I}", "stripe_event", (json_int_t)out->row_id);
	int rc = job ? queue_enqueue(conn, "stripe_event_job", job, key, NULL, NULL, err) : -1;
	json_decref(job);
	return rc;
}
