/*
 * sqlscript.h — split a SQL script into statements the way PostgreSQL's lexer sees them.
 *
 * Written by hand because no maintained C library exposes PostgreSQL's lexer (libpg_query
 * is not packaged in Debian 12). It knows just enough to find statement boundaries: quoted
 * strings ('…', E'…' with backslash escapes), quoted identifiers ("…"), dollar quotes
 * ($tag$…$tag$), line and nested block comments, and SQL-standard function bodies
 * (BEGIN ATOMIC … END, whose semicolons do not end the statement). The migration runner
 * uses it to refuse transaction control before running a file and to record the file's
 * statements as the Supabase CLI does. fuzz/fuzz_sqlscript.c exercises it.
 */
#ifndef SK_SQLSCRIPT_H
#define SK_SQLSCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Called once per statement: text points into the script, len excludes the ';' and the
 * surrounding white space. Return non-zero to stop the split (that value is returned). */
typedef int (*sqlscript_fn)(const char *text, size_t len, void *ctx);

/* Split script into statements. Returns 0, the callback's non-zero value, or -1 with err
 * filled when a quote, dollar quote or comment is not terminated. Statements that are
 * empty or only comments are skipped. */
int sqlscript_split(const char *script, size_t len, sqlscript_fn fn, void *ctx, struct sk_err *err);

/* Whether a statement begins or ends a transaction (BEGIN, START TRANSACTION, COMMIT, END,
 * ROLLBACK other than ROLLBACK TO, ABORT, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED). */
bool sqlscript_is_transaction_control(const char *stmt, size_t len);

#endif
