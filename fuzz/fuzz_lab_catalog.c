/*
 * fuzz_lab_catalog.c — the lab's catalog reader and the persistence standard rendered from
 * it, on arbitrary bytes: a catalog the checker accepts must render without fault.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "domain/lab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_err err = {0};
	/* No handler registry: any job kind of the right shape is accepted, so the checker
	 * lets through as much as it ever could. */
	json_t *cat = lab_catalog_parse((const char *)data, size, NULL, &err);
	if (!cat)
		return 0;
	char *md = lab_standard(cat);
	if (!md)
		abort(); /* an accepted catalog always renders */
	free(md);
	json_decref(cat);
	return 0;
}
