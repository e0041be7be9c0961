/*
 * fuzz_ai_output.c — the AI contract's output gate on arbitrary model content. Anything may
 * be refused, but nothing may crash, and what is accepted must hold what the gate promises:
 * within the column's length, no control character but tab and newline, no tag opener, no
 * link, no template syntax.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/ai_contract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	/* The first byte picks the task; the rest is the content. */
	const struct ai_contract *c = ai_contract_at(data[0] % ai_contract_count());
	struct sk_err err = {0};
	char *text = ai_contract_output(c, (const char *)data + 1, size - 1, &err);
	if (!text) {
		if (err.problem != PROBLEM_BAD_GATEWAY && err.problem != PROBLEM_INTERNAL)
			abort();
		return 0;
	}
	size_t n = strlen(text);
	if (n == 0 || ai_text_unsafe(text, n) || strstr(text, "://") || strstr(text, "{{"))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)text[i] < 0x20 && text[i] != '\n' && text[i] != '\t')
			abort();
	free(text);
	return 0;
}
