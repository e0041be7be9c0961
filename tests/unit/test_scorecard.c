/*
 * test_scorecard.c — the launch criteria judged from doctor's items: a criterion passes only
 * when every item it rests on passes, fails with the first failing item as its evidence, and
 * fails as "not checked" when nothing it rests on was checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "domain/scorecard.h"

static void item(struct doctor_report *r, const char *area, const char *name, enum doctor_status st,
                 const char *detail)
{
	struct doctor_item *it = &r->items[r->count++];
	snprintf(it->area, sizeof(it->area), "%s", area);
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->status = st;
	snprintf(it->detail, sizeof(it->detail), "%s", detail);
}

static const struct scorecard_line *line(const struct scorecard_line *card, const char *name)
{
	for (size_t i = 0; i < SCORECARD_CRITERIA; i++)
		if (strcmp(card[i].criterion, name) == 0)
			return &card[i];
	fail_msg("no criterion %s", name);
	return NULL;
}

static void criteria_follow_their_items(void **state)
{
	(void)state;
	struct doctor_item items[32];
	struct doctor_report r = {.items = items, .cap = 32};
	item(&r, "env", "DATABASE_URL", DOCTOR_OK, "set");
	item(&r, "env", "AI_API_URL", DOCTOR_INFO, "missing: the AI is off");
	item(&r, "database", "reachable", DOCTOR_OK, "PostgreSQL 150000");
	item(&r, "lint", "rls_disabled_in_public", DOCTOR_OK, "clean");
	item(&r, "lint", "anon_privileges", DOCTOR_FINDING,
	     "public.t: anon holds privileges on it");
	item(&r, "launch", "backups_recent", DOCTOR_OK, "last backup 2026-12-01 10:00 UTC");
	item(&r, "launch", "restore_drill", DOCTOR_FINDING, "no drill passed");
	struct scorecard_line card[SCORECARD_CRITERIA];
	size_t passing = scorecard_build(&r, card);

	assert_true(
	        line(card, "env_complete")->pass); /* an optional variable unset is not a fail */
	assert_string_equal(line(card, "env_complete")->evidence, "2 checks pass");
	assert_true(line(card, "backups_recent")->pass);
	assert_string_equal(line(card, "backups_recent")->evidence,
	                    "last backup 2026-12-01 10:00 UTC");
	assert_false(line(card, "rls_lints")->pass);
	assert_string_equal(
	        line(card, "rls_lints")->evidence,
	        "1 of 2 failing; anon_privileges: public.t: anon holds privileges on it");
	assert_false(line(card, "restore_drill_recent")->pass);
	assert_non_null(strstr(line(card, "restore_drill_recent")->plan, "restore --drill"));
	/* Nothing was checked for these: they fail. */
	assert_false(line(card, "audit_chain")->pass);
	assert_string_equal(line(card, "audit_chain")->evidence,
	                    "not checked: the database was not reached");
	assert_false(line(card, "migrations_current")->pass);
	assert_int_equal(passing, 3); /* database, env, backups */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(criteria_follow_their_items),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
