/*
 * files.c — whole-file reads with a size bound, and atomic writes.
 */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *file_read_all(const char *path, size_t max_len, size_t *len, struct sk_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_set(err, PROBLEM_NOT_FOUND, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_set(err, PROBLEM_NOT_FOUND, "%s is not a regular file", path);
		goto fail;
	}
	if ((size_t)st.st_size > max_len) {
		err_set(err, PROBLEM_TOO_LARGE, "%s is larger than %zu bytes", path, max_len);
		goto fail;
	}
	size_t size = (size_t)st.st_size, got = 0;
	buf = malloc(size + 1);
	if (!buf) {
		err_set(err, PROBLEM_INTERNAL, "out of memory reading %s", path);
		goto fail;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_set(err, PROBLEM_INTERNAL, "cannot read %s", path);
			goto fail;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	if (len)
		*len = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static int fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -1;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(copy);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int file_write_atomic(const char *path, const void *data, size_t len, struct sk_err *err)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return err_set(err, PROBLEM_INTERNAL, "path too long");
	int fd = mkstemp(tmp);
	if (fd < 0)
		return err_set(err, PROBLEM_UNAVAILABLE, "cannot create a file: %s",
		               strerror(errno));
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			return err_set(err, PROBLEM_UNAVAILABLE, "cannot write a file: %s",
			               strerror(e));
		}
		p += n;
		left -= (size_t)n;
	}
	if (fsync(fd) < 0 || fchmod(fd, 0640) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return err_set(err, PROBLEM_UNAVAILABLE, "cannot sync a file: %s", strerror(e));
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return err_set(err, PROBLEM_UNAVAILABLE, "cannot rename a file: %s", strerror(e));
	}
	if (fsync_dir_of(path) < 0)
		return err_set(err, PROBLEM_UNAVAILABLE, "cannot sync a directory: %s",
		               strerror(errno));
	return 0;
}
