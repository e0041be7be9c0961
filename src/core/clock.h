/*
 * clock.h — time for waiting: monotonic milliseconds and microseconds to measure intervals
 * with, and the absolute deadline pthread_cond_timedwait takes (CLOCK_REALTIME, the default
 * clock of a condition variable).
 */
#ifndef SK_CLOCK_H
#define SK_CLOCK_H

#include <time.h>

/* CLOCK_MONOTONIC, in milliseconds and in microseconds. */
long long clock_ms(void);
long long clock_us(void);

/* The moment us microseconds from now (at least one), for pthread_cond_timedwait. */
struct timespec clock_deadline_us(long long us);

#endif
