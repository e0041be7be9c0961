/*
 * testhook.h — switches that exist only in test builds (debug and asan), never in release.
 *
 * The one switch today lets the end-to-end tests prove that Row Level Security, not the C
 * code, keeps one person from another: with SCROLLKEEP_TEST_SKIP_OWNER_CHECKS=1 in the
 * environment of a test build, the C-side "AND user_id = $n" of person queries is dropped.
 */
#ifndef SK_TESTHOOK_H
#define SK_TESTHOOK_H

#include <stdbool.h>

#ifdef SCROLLKEEP_TEST_HOOKS
#include <stdlib.h>
#include <string.h>
static inline bool testhook_skip_owner_checks(void)
{
	const char *v = getenv("SCROLLKEEP_TEST_SKIP_OWNER_CHECKS");
	return v && strcmp(v, "1") == 0;
}
#else
static inline bool testhook_skip_owner_checks(void)
{
	return false;
}
#endif

#endif
