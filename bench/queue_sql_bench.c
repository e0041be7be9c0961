/*
 * queue_sql_bench.c — prints the worker's claim and finish statements as one JSON object, so
 * that bench/ceiling.mjs runs exactly those statements under pgbench (the rate PostgreSQL
 * itself gives them on this machine, without the worker around them).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "jobs/queue.h"

int main(void)
{
	json_t *out = json_pack("{s:s, s:s}", "claim", queue_statement("claim"), "finish",
	                        queue_statement("finish"));
	char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
	json_decref(out);
	if (!text)
		return 1;
	puts(text);
	free(text);
	return 0;
}
