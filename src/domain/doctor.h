/*
 * doctor.h — `scrollkeep doctor`: the environment of DESIGN.md (set, missing or malformed;
 * never a value), the database, the migration level, the security lints of rls.h, the
 * audit chain (intact, and its head), and data-subject requests near or past their due date.
 * Every failed check is a finding; optional variables that are unset are reported, not
 * counted, because the features they enable are optional.
 */
#ifndef SK_DOCTOR_H
#define SK_DOCTOR_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

enum doctor_status { DOCTOR_OK, DOCTOR_INFO, DOCTOR_FINDING };

struct doctor_item {
	char area[16]; /* env, database, migrations, lint, audit, privacy */
	char name[64];
	enum doctor_status status;
	char detail[256];
};

struct doctor_report {
	struct doctor_item *items;
	size_t count;
	size_t cap;
	size_t findings;
	char exposed_schemas[256];
};

/* Run every check. Returns -1 only when the report itself cannot be built (out of memory);
 * an unreachable database is a finding, not an error. */
int doctor_run(const struct config *cfg, struct doctor_report *report, struct sk_err *err);

void doctor_report_free(struct doctor_report *report);

const char *doctor_status_name(enum doctor_status status);

#endif
