/*
 * files.h — reading and writing whole files safely.
 */
#ifndef SK_FILES_H
#define SK_FILES_H

#include <stddef.h>

#include "err.h"

/* Read a whole regular file of at most max_len bytes into a NUL-terminated buffer the caller
 * frees. Returns NULL with err filled when it is missing, not a regular file or too large. */
char *file_read_all(const char *path, size_t max_len, size_t *len, struct sk_err *err);

/* Write data to path atomically: a temporary file in the same directory, fsync, rename, and
 * fsync of the directory, so a crash leaves either the old file or the new one. */
int file_write_atomic(const char *path, const void *data, size_t len, struct sk_err *err);

#endif
