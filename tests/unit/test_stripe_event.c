/*
 * test_stripe_event.c — what the webhook accepts as a Stripe event before storing it: the
 * fields stripe_events requires, checked the way its constraints check them (so a bad event
 * is refused alone, never failing the batch it arrived with), and the status it is stored with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "domain/stripe_event.h"

static int parse(const char *json, struct stripe_event_in *ev, struct sk_err *err)
{
	return stripe_event_parse(json, strlen(json), ev, err);
}

/* An event with the given id, type and created, and the fields Stripe always sends. */
static const char *event(char *out, size_t cap, const char *id, const char *type,
                         const char *created)
{
	snprintf(out, cap,
	         "{\"id\":\"%s\",\"object\":\"event\",\"type\":\"%s\",\"livemode\":false,"
	         "\"created\":%s,\"data\":{\"object\":{\"id\":\"cs_1\"}}}",
	         id, type, created);
	return out;
}

static void a_handled_event_is_received_and_others_ignored(void **state)
{
	(void)state;
	char json[512];
	struct stripe_event_in ev;
	struct sk_err err = {0};
	event(json, sizeof(json), "evt_1A_b", "checkout.session.completed", "1764000000");
	assert_int_equal(parse(json, &ev, &err), 0);
	assert_string_equal(ev.event_id, "evt_1A_b");
	assert_string_equal(ev.status, "received");
	assert_ptr_equal(ev.raw, json);
	assert_int_equal(ev.len, strlen(json));
	event(json, sizeof(json), "evt_2", "customer.created", "1764000000");
	assert_int_equal(parse(json, &ev, &err), 0);
	assert_string_equal(ev.status, "ignored");
}

static void ids_and_types_follow_the_tables_constraints(void **state)
{
	(void)state;
	static const char *const bad_ids[] = {"evt_", "evt_a-b", "evt_a b", "ev_1", "EVT_1", "1"};
	static const char *const bad_types[] = {
	        "checkout", "Checkout.session", ".a.b", "a.b.", "a..b", "a.b-c", ""};
	char json[1024];
	struct stripe_event_in ev;
	struct sk_err err = {0};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(*bad_ids); i++) {
		event(json, sizeof(json), bad_ids[i], "charge.refunded", "1");
		assert_int_equal(parse(json, &ev, &err), -1);
		assert_int_equal(err.problem, PROBLEM_INVALID_BODY);
	}
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(*bad_types); i++) {
		event(json, sizeof(json), "evt_1", bad_types[i], "1");
		assert_int_equal(parse(json, &ev, &err), -1);
	}
	char long_id[300] = "evt_";
	memset(long_id + 4, 'a', 251); /* 255 characters: one over the limit */
	long_id[255] = '\0';
	event(json, sizeof(json), long_id, "charge.refunded", "1");
	assert_int_equal(parse(json, &ev, &err), -1);
	long_id[254] = '\0';
	event(json, sizeof(json), long_id, "charge.refunded", "1");
	assert_int_equal(parse(json, &ev, &err), 0);
}

static void what_is_not_an_event_is_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "",
	        "[]",
	        "{\"id\":\"evt_1\"",
	        /* a key twice: PostgreSQL would keep the last, jansson refuses */
	        "{\"id\":\"evt_1\",\"id\":\"evt_2\",\"object\":\"event\",\"type\":\"a.b\","
	        "\"livemode\":false,\"created\":1,\"data\":{\"object\":{}}}",
	        /* not an event object */
	        "{\"id\":\"evt_1\",\"object\":\"charge\",\"type\":\"a.b\",\"livemode\":false,"
	        "\"created\":1,\"data\":{\"object\":{}}}",
	        /* livemode not a boolean, created not an integer, no data.object */
	        "{\"id\":\"evt_1\",\"object\":\"event\",\"type\":\"a.b\",\"livemode\":\"false\","
	        "\"created\":1,\"data\":{\"object\":{}}}",
	        "{\"id\":\"evt_1\",\"object\":\"event\",\"type\":\"a.b\",\"livemode\":false,"
	        "\"created\":1.5,\"data\":{\"object\":{}}}",
	        "{\"id\":\"evt_1\",\"object\":\"event\",\"type\":\"a.b\",\"livemode\":false,"
	        "\"created\":1,\"data\":{}}",
	};
	struct stripe_event_in ev;
	struct sk_err err = {0};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(parse(bad[i], &ev, &err), -1);
		assert_true(err.problem == PROBLEM_INVALID_JSON ||
		            err.problem == PROBLEM_INVALID_BODY);
	}
	char json[512];
	event(json, sizeof(json), "evt_1", "a.b", "-1");
	assert_int_equal(parse(json, &ev, &err), -1);
	event(json, sizeof(json), "evt_1", "a.b", "99999999999999");
	assert_int_equal(parse(json, &ev, &err), -1);
	assert_int_equal(stripe_event_parse(NULL, 0, &ev, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(a_handled_event_is_received_and_others_ignored),
	        cmocka_unit_test(ids_and_types_follow_the_tables_constraints),
	        cmocka_unit_test(what_is_not_an_event_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
