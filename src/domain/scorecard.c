/*
 * scorecard.c — the launch criteria over doctor's items (see scorecard.h).
 */
#include "scorecard.h"

#include <stdio.h>
#include <string.h>

/* A criterion rests on the items of area (every one of them when item is NULL). */
struct criterion {
	const char *name;
	const char *title;
	const char *area;
	const char *item;
	const char *plan;
};

static const struct criterion criteria[SCORECARD_CRITERIA] = {
        {"database_reachable", "the database answers", "database", NULL,
         "Make DATABASE_URL reach the database (doctor says why it cannot)."},
        {"env_complete", "the environment is complete and well-formed", "env", NULL,
         "Set the variables doctor names as missing or malformed (README, Configuration)."},
        {"migrations_current", "every migration applied, none changed", "migrations", NULL,
         "Run `scrollkeep migrate` (see `scrollkeep migrate --status`)."},
        {"rls_lints", "RLS and the security advisor's lints are clean", "lint", NULL,
         "Fix each lint finding on the object doctor names (docs/rls-policy-map.md)."},
        {"unique_keys", "the unique keys money and delivery rely on exist", "launch", "unique_keys",
         "Re-create the missing unique key by a migration; never drop one by hand."},
        {"backups_recent", "a backup was taken within a day", "launch", "backups_recent",
         "Run `scrollkeep backup --out DIR` now and schedule it daily (docs/backup-and-restore.md)."},
        {"restore_drill_recent", "a restore drill passed within a week", "launch", "restore_drill",
         "Run `scrollkeep restore --drill --into URL` on a throwaway database and schedule it weekly."},
        {"jobs_healthy", "no delivery job dead or unknown", "launch", "jobs",
         "Look at each job (`scrollkeep jobs list --status dead`, `--status unknown`), then retry "
         "or cancel it (docs/operator-handbook.md)."},
        {"audit_chain", "the audit chain verifies", "audit", NULL,
         "Run `scrollkeep audit verify`; compare the head with the last backup's manifest."},
        {"deletion_deadlines", "no data-subject request overdue or close to it", "privacy", NULL,
         "Run the worker so requests complete; `scrollkeep verify` lists them; extend only with a "
         "reason (`scrollkeep privacy extend`)."},
        {"consent_coverage", "every write had the consent it needed", "launch", "consent",
         "Run `scrollkeep verify` and undo each missing_consent write it names."},
        {"secrets_absent", "no secret is stored in the database", "launch", "secrets",
         "Remove the secret from the column doctor names, then rotate it."},
};

static bool rests_on(const struct criterion *c, const struct doctor_item *it)
{
	return strcmp(it->area, c->area) == 0 && (!c->item || strcmp(it->name, c->item) == 0);
}

static bool judge(const struct criterion *c, const struct doctor_report *r, char *evidence,
                  size_t len)
{
	size_t seen = 0, failing = 0;
	const struct doctor_item *first_fail = NULL, *only = NULL;
	for (size_t i = 0; i < r->count; i++) {
		const struct doctor_item *it = &r->items[i];
		if (!rests_on(c, it))
			continue;
		seen++;
		only = it;
		if (it->status == DOCTOR_FINDING && failing++ == 0)
			first_fail = it;
	}
	if (!seen)
		snprintf(evidence, len, "not checked: the database was not reached");
	else if (first_fail)
		snprintf(evidence, len, "%zu of %zu failing; %s: %s", failing, seen,
		         first_fail->name, first_fail->detail);
	else if (seen == 1)
		snprintf(evidence, len, "%s", only->detail);
	else
		snprintf(evidence, len, "%zu checks pass", seen);
	return seen && !failing;
}

size_t scorecard_build(const struct doctor_report *report,
                       struct scorecard_line out[SCORECARD_CRITERIA])
{
	size_t passing = 0;
	for (size_t i = 0; i < SCORECARD_CRITERIA; i++) {
		const struct criterion *c = &criteria[i];
		out[i].criterion = c->name;
		out[i].title = c->title;
		out[i].plan = c->plan;
		out[i].pass = judge(c, report, out[i].evidence, sizeof(out[i].evidence));
		passing += out[i].pass;
	}
	return passing;
}
