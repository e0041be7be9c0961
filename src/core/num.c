/*
 * num.c — integers from text (see num.h).
 */
#include "num.h"

#include <errno.h>
#include <stdlib.h>

int num_parse(const char *text, long long min, long long max, long long *out)
{
	if (!text || !*text)
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || *end != '\0' || end == text ||
	    (*text != '-' && *text != '+' && (*text < '0' || *text > '9')))
		return -1;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
