/*
 * fuzz_sqlscript.c — the migration file reader: split arbitrary text into statements. Every
 * statement handed back must lie inside the input, and the transaction-control check must
 * accept whatever it is given.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/sqlscript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct bounds {
	const char *start;
	size_t size;
};

static int each(const char *text, size_t len, void *ctx)
{
	const struct bounds *b = ctx;
	if (len == 0 || text < b->start || text + len > b->start + b->size)
		abort();
	sqlscript_is_transaction_control(text, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bounds b = {(const char *)data, size};
	struct sk_err err = {0};
	sqlscript_split((const char *)data, size, each, &b, &err);
	return 0;
}
