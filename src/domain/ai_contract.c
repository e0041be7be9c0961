/*
 * ai_contract.c — the declared AI tasks, the input filter and the output check (see
 * ai_contract.h).
 */
#include "ai_contract.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/json.h"

/* Keep in step with scrollkeep.ai_contracts (migration 018); tests/node/ai_contract.test.mjs
 * compares the two. The output limits are the output columns' own CHECKs. */
static const struct ai_contract contracts[] = {
        {"reading_answer",
         {"question", "spread", NULL},
         "readings",
         "answer",
         20000,
         "You are the oracle of a tarot reading. The user message is a JSON object with the "
         "person's question and the cards drawn (card, position, reversed). Answer the "
         "question from the cards in plain prose. Reply with a JSON object {\"answer\": text} "
         "and nothing else; no markup, no links."},
        {"echo_followup",
         {"question", "answer", "spread", "days_after", NULL},
         "echoes",
         "body",
         20000,
         "You write the Echo of a tarot reading: a short follow-up that returns to the person "
         "days_after days after the reading. The user message holds the question, the answer "
         "given and the cards. Reply with a JSON object {\"body\": text} and nothing else; no "
         "markup, no links."},
        {"council_voice",
         {"question", "spread", "voice", NULL},
         "council_voices",
         "body",
         8000,
         "You are one voice of a council of personas discussing a tarot reading. Speak as the "
         "persona named voice about the question and the cards. Reply with a JSON object "
         "{\"body\": text} and nothing else; no markup, no links."},
};

const struct ai_contract *ai_contract_find(const char *task)
{
	for (size_t i = 0; task && i < ai_contract_count(); i++)
		if (strcmp(contracts[i].task, task) == 0)
			return &contracts[i];
	return NULL;
}

const struct ai_contract *ai_contract_at(size_t i)
{
	return i < ai_contract_count() ? &contracts[i] : NULL;
}

size_t ai_contract_count(void)
{
	return sizeof(contracts) / sizeof(contracts[0]);
}

json_t *ai_contract_input(const struct ai_contract *c, const json_t *source, struct sk_err *err)
{
	json_t *input = json_object();
	if (!input) {
		err_set(err, PROBLEM_INTERNAL, "out of memory");
		return NULL;
	}
	for (size_t i = 0; c->inputs[i]; i++) {
		json_t *v = json_object_get(source, c->inputs[i]);
		if (!v || json_object_set(input, c->inputs[i], v) < 0) {
			json_decref(input);
			err_set(err, PROBLEM_INTERNAL, "the AI task %s lacks its input %s", c->task,
			        c->inputs[i]);
			return NULL;
		}
	}
	return input;
}

char *ai_contract_field_list(const json_t *input)
{
	struct buf b = {0};
	const char *key;
	json_t *v;
	buf_puts(&b, "{");
	bool first = true;
	json_object_foreach((json_t *)input, key, v)
	{
		buf_printf(&b, "%s%s", first ? "" : ",", key);
		first = false;
	}
	buf_puts(&b, "}");
	return buf_take(&b);
}

/* ---- the output check ---- */

static bool has_ci(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(s + i, needle, n) == 0)
			return true;
	return false;
}

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* A tag, comment, doctype or processing instruction begins "<" + letter, /, ! or ?; an
 * entity is "&" + "#" or letters + ";". Plain prose ("a < b", "R&D") passes. */
static const char *markup_at(const char *s, size_t len, size_t i)
{
	char next = i + 1 < len ? s[i + 1] : '\0';
	if (s[i] == '<' && (is_alpha(next) || next == '/' || next == '!' || next == '?'))
		return "markup";
	if (s[i] == '&') {
		if (next == '#')
			return "an HTML entity";
		size_t j = i + 1;
		while (j < len && j - i <= 32 && is_alpha(s[j]))
			j++;
		if (j > i + 1 && j < len && s[j] == ';')
			return "an HTML entity";
	}
	if ((s[i] == '{' && (next == '{' || next == '%')) || (s[i] == '}' && next == '}'))
		return "template syntax";
	if (s[i] == ']' && next == '(')
		return "a markdown link";
	return NULL;
}

/* U+202A..U+202E and U+2066..U+2069 reorder what a reader sees (E2 80 AA..AE, E2 81 A6..A9). */
static bool bidi_control_at(const unsigned char *u, size_t len, size_t i)
{
	if (i + 2 >= len || u[i] != 0xE2)
		return false;
	return (u[i + 1] == 0x80 && u[i + 2] >= 0xAA && u[i + 2] <= 0xAE) ||
	       (u[i + 1] == 0x81 && u[i + 2] >= 0xA6 && u[i + 2] <= 0xA9);
}

const char *ai_text_unsafe(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len; i++) {
		if ((u[i] < 0x20 && u[i] != '\n' && u[i] != '\t') || u[i] == 0x7F)
			return "a control character";
		if (bidi_control_at(u, len, i))
			return "a bidirectional override";
		const char *m = markup_at(s, len, i);
		if (m)
			return m;
	}
	static const char *const links[] = {
	        "://", "www.", "javascript:", "vbscript:", "data:", "mailto:"};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (has_ci(s, len, links[i]))
			return "a link";
	return NULL;
}

char *ai_contract_output(const struct ai_contract *c, const char *content, size_t len,
                         struct sk_err *err)
{
	json_error_t jerr;
	json_t *doc = json_loadb(content, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *text = json_object_get(doc, c->output_column);
	char *out = NULL;
	if (!json_is_object(doc) || json_object_size(doc) != 1 || !json_is_string(text)) {
		err_set(err, PROBLEM_BAD_GATEWAY,
		        "the AI's answer is not a JSON object holding only \"%s\" as text",
		        c->output_column);
		goto done;
	}
	const char *s = json_string_value(text);
	size_t bytes = json_string_length(text);
	size_t chars = json_utf8_chars(s, bytes);
	const char *unsafe = bytes == strlen(s) ? ai_text_unsafe(s, bytes) : "a NUL character";
	if (chars < 1 || chars > c->output_max_chars || strspn(s, " \t\n") == bytes)
		err_set(err, PROBLEM_BAD_GATEWAY,
		        "the AI's %s is blank or %zu characters long (1 to %zu allowed)",
		        c->output_column, chars, c->output_max_chars);
	else if (unsafe)
		err_set(err, PROBLEM_BAD_GATEWAY, "the AI's %s holds %s", c->output_column, unsafe);
	else if (!(out = strdup(s)))
		err_set(err, PROBLEM_INTERNAL, "out of memory");
done:
	json_decref(doc);
	return out;
}
