/*
 * sqlscript.c — a statement splitter for PostgreSQL scripts (see sqlscript.h for why it is
 * hand-written). A single pass with an explicit state; every index is checked against the
 * length, so hostile input can only produce an error, never a read out of bounds.
 */
#include "sqlscript.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static bool ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
	return ident_start(c) || isdigit(c) || c == '$';
}

/* Length of a dollar-quote tag ("$" or "$name$") starting at s[i], or 0 when there is none. */
static size_t dollar_tag(const char *s, size_t i, size_t n)
{
	if (s[i] != '$')
		return 0;
	size_t j = i + 1;
	if (j < n && s[j] == '$')
		return 2;
	if (j >= n || !ident_start((unsigned char)s[j]))
		return 0;
	while (j < n && (ident_start((unsigned char)s[j]) || isdigit((unsigned char)s[j])))
		j++;
	return j < n && s[j] == '$' ? j - i + 1 : 0;
}

static bool word_is(const char *w, size_t len, const char *keyword)
{
	return strlen(keyword) == len && strncasecmp(w, keyword, len) == 0;
}

/* Index just past the (nestable) block comment that opens at s[i], or 0 when it is not
 * terminated. */
static size_t block_comment_end(const char *s, size_t i, size_t n)
{
	int depth = 0;
	while (i + 1 < n) {
		if (s[i] == '/' && s[i + 1] == '*') {
			depth++;
			i += 2;
		} else if (s[i] == '*' && s[i + 1] == '/') {
			i += 2;
			if (--depth == 0)
				return i;
		} else {
			i++;
		}
	}
	return 0;
}

/* Skip white space and comments from i; returns the new index (n when none is left). */
static size_t skip_blank(const char *s, size_t i, size_t n)
{
	for (;;) {
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
			while (i < n && s[i] != '\n')
				i++;
		} else if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
			size_t end = block_comment_end(s, i, n);
			if (end == 0)
				return n;
			i = end;
		} else {
			return i;
		}
	}
}

/* Emit s[from, to) trimmed, unless it holds only blanks and comments. */
static int emit(const char *s, size_t from, size_t to, sqlscript_fn fn, void *ctx)
{
	size_t start = skip_blank(s, from, to);
	if (start >= to)
		return 0;
	start = from;
	while (start < to && isspace((unsigned char)s[start]))
		start++;
	while (to > start && isspace((unsigned char)s[to - 1]))
		to--;
	return fn(s + start, to - start, ctx);
}

int sqlscript_split(const char *s, size_t n, sqlscript_fn fn, void *ctx, struct sk_err *err)
{
	size_t stmt_start = 0, i = 0;
	bool prev_begin = false; /* the last word was BEGIN (for BEGIN ATOMIC) */
	int atomic_depth = 0;    /* > 0 inside BEGIN ATOMIC … END */
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c == '-' && i + 1 < n && s[i + 1] == '-') {
			while (i < n && s[i] != '\n')
				i++;
		} else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
			i = block_comment_end(s, i, n);
			if (i == 0)
				return err_set(err, PROBLEM_INVALID_BODY, "unterminated comment");
		} else if (c == '\'') {
			bool escapes = i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
			               (i < 2 || !ident_char((unsigned char)s[i - 2]));
			i++;
			for (;;) {
				if (i >= n)
					return err_set(err, PROBLEM_INVALID_BODY,
					               "unterminated string");
				if (escapes && s[i] == '\\') {
					i += 2;
					continue;
				}
				if (s[i] == '\'') {
					if (i + 1 < n && s[i + 1] == '\'') {
						i += 2;
						continue;
					}
					i++;
					break;
				}
				i++;
			}
		} else if (c == '"') {
			i++;
			for (;;) {
				if (i >= n)
					return err_set(err, PROBLEM_INVALID_BODY,
					               "unterminated quoted identifier");
				if (s[i] == '"') {
					if (i + 1 < n && s[i + 1] == '"') {
						i += 2;
						continue;
					}
					i++;
					break;
				}
				i++;
			}
		} else if (c == '$' && (i == 0 || !ident_char((unsigned char)s[i - 1])) &&
		           dollar_tag(s, i, n) > 0) {
			size_t tag = dollar_tag(s, i, n);
			const char *open = s + i;
			i += tag;
			for (;;) {
				if (i + tag > n)
					return err_set(err, PROBLEM_INVALID_BODY,
					               "unterminated dollar quote");
				if (memcmp(s + i, open, tag) == 0) {
					i += tag;
					break;
				}
				i++;
			}
		} else if (ident_start(c)) {
			size_t w = i;
			while (i < n && ident_char((unsigned char)s[i]))
				i++;
			size_t len = i - w;
			if (atomic_depth > 0) {
				if (word_is(s + w, len, "case"))
					atomic_depth++;
				else if (word_is(s + w, len, "end"))
					atomic_depth--;
			} else if (prev_begin && word_is(s + w, len, "atomic")) {
				atomic_depth = 1;
			}
			prev_begin = word_is(s + w, len, "begin");
			continue;
		} else if (c == ';' && atomic_depth == 0) {
			int rc = emit(s, stmt_start, i, fn, ctx);
			if (rc)
				return rc;
			stmt_start = ++i;
		} else {
			i++;
		}
		if (!isspace(c))
			prev_begin = false;
	}
	return emit(s, stmt_start, n, fn, ctx);
}

/* The n-th word of a statement (0-based) after comments, or NULL; *len gets its length. */
static const char *nth_word(const char *s, size_t n, int which, size_t *len)
{
	size_t i = 0;
	for (int k = 0;; k++) {
		i = skip_blank(s, i, n);
		if (i >= n || !ident_start((unsigned char)s[i]))
			return NULL;
		size_t w = i;
		while (i < n && ident_char((unsigned char)s[i]))
			i++;
		if (k == which) {
			*len = i - w;
			return s + w;
		}
	}
}

bool sqlscript_is_transaction_control(const char *stmt, size_t len)
{
	size_t l1 = 0, l2 = 0;
	const char *w1 = nth_word(stmt, len, 0, &l1);
	if (!w1)
		return false;
	const char *w2 = nth_word(stmt, len, 1, &l2);
	if (word_is(w1, l1, "begin") || word_is(w1, l1, "commit") || word_is(w1, l1, "end") ||
	    word_is(w1, l1, "abort"))
		return true;
	if (word_is(w1, l1, "start"))
		return w2 && word_is(w2, l2, "transaction");
	if (word_is(w1, l1, "rollback"))
		return !(w2 && word_is(w2, l2, "to"));
	if (word_is(w1, l1, "prepare"))
		return w2 && word_is(w2, l2, "transaction");
	return false;
}
