/*
 * cmd_doctor.c — `scrollkeep doctor [--json]`: every check (environment, database,
 * migrations, security lints, audit chain, deadlines, launch criteria), one FINDING line per
 * finding, then the scorecard and the completion plan; exit 1 when anything fails.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "command.h"
#include "domain/doctor.h"
#include "domain/scorecard.h"

static void print_text(const struct doctor_report *r)
{
	for (size_t i = 0; i < r->count; i++) {
		const struct doctor_item *it = &r->items[i];
		if (it->status == DOCTOR_FINDING)
			continue;
		printf("%-7s %-10s %-30s %s\n", doctor_status_name(it->status), it->area, it->name,
		       it->detail);
	}
	if (r->exposed_schemas[0])
		printf("info    lint       exposed schemas                %s\n",
		       r->exposed_schemas);
	for (size_t i = 0; i < r->count; i++) {
		const struct doctor_item *it = &r->items[i];
		if (it->status == DOCTOR_FINDING)
			printf("FINDING %s %s: %s\n", it->area, it->name, it->detail);
	}
	struct scorecard_line card[SCORECARD_CRITERIA];
	size_t passing = scorecard_build(r, card);
	printf("\nscorecard: %zu of %d criteria pass\n", passing, SCORECARD_CRITERIA);
	for (size_t i = 0; i < SCORECARD_CRITERIA; i++)
		printf("  %s  %-22s %s\n", card[i].pass ? "PASS" : "FAIL", card[i].criterion,
		       card[i].evidence);
	printf("\ncompletion plan: %s\n",
	       passing == SCORECARD_CRITERIA
	               ? "nothing stands between this deployment and launch"
	               : "what still stands between this deployment and launch");
	for (size_t i = 0, step = 1; i < SCORECARD_CRITERIA; i++)
		if (!card[i].pass)
			printf("  %zu. %s — %s\n", step++, card[i].title, card[i].plan);
	printf("\ndoctor: %zu finding%s\n", r->findings, r->findings == 1 ? "" : "s");
}

static void print_json(const struct doctor_report *r)
{
	json_t *items = json_array();
	for (size_t i = 0; i < r->count; i++) {
		const struct doctor_item *it = &r->items[i];
		json_array_append_new(items,
		                      json_pack("{s:s, s:s, s:s, s:s}", "area", it->area, "name",
		                                it->name, "status", doctor_status_name(it->status),
		                                "detail", it->detail));
	}
	struct scorecard_line card[SCORECARD_CRITERIA];
	size_t passing = scorecard_build(r, card);
	json_t *lines = json_array(), *plan = json_array();
	for (size_t i = 0; i < SCORECARD_CRITERIA; i++) {
		json_array_append_new(lines,
		                      json_pack("{s:s, s:s, s:b, s:s}", "criterion",
		                                card[i].criterion, "title", card[i].title, "pass",
		                                card[i].pass, "evidence", card[i].evidence));
		if (!card[i].pass)
			json_array_append_new(plan,
			                      json_pack("{s:s, s:s}", "criterion",
			                                card[i].criterion, "do", card[i].plan));
	}
	json_t *doc = json_pack("{s:i, s:s, s:o, s:{s:i, s:i, s:o}, s:o}", "findings",
	                        (int)r->findings, "exposed_schemas", r->exposed_schemas, "checks",
	                        items, "scorecard", "passing", (int)passing, "criteria",
	                        SCORECARD_CRITERIA, "lines", lines, "completion_plan", plan);
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text)
		puts(text);
	free(text);
	json_decref(doc);
}

static int run(int argc, char **argv, const struct config *cfg)
{
	bool as_json;
	int usage = command_json_only(&cmd_doctor, argc, argv, &as_json);
	if (usage)
		return usage;
	struct doctor_report report;
	struct sk_err err = {0};
	if (doctor_run(cfg, &report, &err) < 0)
		return command_fail(&cmd_doctor, &err);
	if (as_json)
		print_json(&report);
	else
		print_text(&report);
	int rc = report.findings ? 1 : 0;
	doctor_report_free(&report);
	return rc;
}

const struct command cmd_doctor = {
        .name = "doctor",
        .usage = "[--json]",
        .summary = "the launch scorecard: environment, migrations, lints, recovery, jobs, privacy",
        .run = run,
};
