/*
 * buf.h — a growable byte buffer for building text (reports, Markdown, e-mails).
 *
 * Allocation failure is sticky: after one, every append is a no-op and buf_failed() is true,
 * so callers check once at the end instead of after every append.
 */
#ifndef SK_BUF_H
#define SK_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated when not NULL */
	size_t len;
	size_t cap;
	bool failed;
};

void buf_append(struct buf *b, const char *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True when an allocation failed since the buffer was made. */
bool buf_failed(const struct buf *b);

/* Hand the data to the caller (who frees it) and reset the buffer. NULL on failure. */
char *buf_take(struct buf *b);

void buf_free(struct buf *b);

#endif
