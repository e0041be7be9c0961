/*
 * scorecard.h — doctor's scorecard: the criteria of a production system that is ready to
 * launch, each pass or fail with its evidence (the doctor items it rests on), and the
 * completion plan: what to do about each failing criterion, in the order to do it.
 */
#ifndef SK_SCORECARD_H
#define SK_SCORECARD_H

#include <stdbool.h>
#include <stddef.h>

#include "domain/doctor.h"

#define SCORECARD_CRITERIA 12

struct scorecard_line {
	const char *criterion; /* rls_lints, env_complete, … */
	const char *title;     /* what it means, in words */
	bool pass;
	char evidence[400];
	const char *plan; /* what to do when it fails */
};

/* Judge every criterion from report into out (SCORECARD_CRITERIA lines). A criterion with no
 * item to rest on (the database could not be reached) fails: "not checked". Returns the
 * number that pass. */
size_t scorecard_build(const struct doctor_report *report,
                       struct scorecard_line out[SCORECARD_CRITERIA]);

#endif
