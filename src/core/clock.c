/*
 * clock.c — time for waiting (see clock.h).
 */
#include "clock.h"

long long clock_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long clock_ms(void)
{
	return clock_us() / 1000;
}

struct timespec clock_deadline_us(long long us)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (us < 1)
		us = 1;
	ts.tv_sec += (time_t)(us / 1000000);
	ts.tv_nsec += (long)(us % 1000000) * 1000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}
