/*
 * fuzz_stripe_event.c — the webhook's event parser on arbitrary bodies. Anything may be
 * refused, but nothing may crash, and what is accepted must be what stripe_events' own checks
 * accept (an id evt_ + [A-Za-z0-9_], a status of received or ignored), or one bad event would
 * fail the batch it arrived with.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/stripe_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	struct stripe_event_in ev;
	struct sk_err err = {0};
	if (stripe_event_parse((const char *)data, size, &ev, &err) < 0) {
		if (err.problem != PROBLEM_INVALID_JSON && err.problem != PROBLEM_INVALID_BODY)
			abort();
		return 0;
	}
	size_t n = strlen(ev.event_id);
	if (n < 5 || n > 254 || strncmp(ev.event_id, "evt_", 4) != 0)
		abort();
	for (size_t i = 4; i < n; i++)
		if (!isalnum((unsigned char)ev.event_id[i]) && ev.event_id[i] != '_')
			abort();
	if (strcmp(ev.status, "received") != 0 && strcmp(ev.status, "ignored") != 0)
		abort();
	if (ev.raw != (const char *)data || ev.len != size)
		abort();
	return 0;
}
