/*
 * test_ai_contract.c — the AI contract's two gates: a request holds only the declared fields,
 * whatever the caller had at hand; and an answer is taken only as one string of the output
 * column, free of markup, links, template syntax and control characters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/ai_client.h"
#include "domain/ai_contract.h"

static void only_declared_fields_are_taken(void **state)
{
	(void)state;
	const struct ai_contract *c = ai_contract_find("reading_answer");
	assert_non_null(c);
	json_t *source =
	        json_pack("{s:s, s:[{s:s}], s:s, s:s, s:s}", "question", "Will it bloom?", "spread",
	                  "card", "The Star", "email", "a@example.test", "user_id",
	                  "0b5c8f9e-1111-4222-8333-944455556666", "public_title", "The Star");
	struct sk_err err = {0};
	json_t *input = ai_contract_input(c, source, &err);
	assert_non_null(input);
	assert_int_equal(json_object_size(input), 2);
	assert_non_null(json_object_get(input, "question"));
	assert_non_null(json_object_get(input, "spread"));
	assert_null(json_object_get(input, "email"));
	char *list = ai_contract_field_list(input);
	assert_string_equal(list, "{question,spread}");
	char *body = ai_client_request(c->instruction, input);
	assert_non_null(body);
	assert_null(strstr(body, "example.test"));
	assert_null(strstr(body, "0b5c8f9e"));
	assert_non_null(strstr(body, "Will it bloom?"));
	free(body);
	free(list);
	json_decref(input);

	json_object_del(source, "spread");
	assert_null(ai_contract_input(c, source, &err));
	assert_int_equal(err.problem, PROBLEM_INTERNAL);
	assert_non_null(strstr(err.detail, "spread"));
	json_decref(source);
}

static void every_contract_is_well_formed(void **state)
{
	(void)state;
	assert_int_equal(ai_contract_count(), 3);
	for (size_t i = 0; i < ai_contract_count(); i++) {
		const struct ai_contract *c = ai_contract_at(i);
		assert_ptr_equal(ai_contract_find(c->task), c);
		assert_non_null(c->inputs[0]);
		for (size_t j = 0; c->inputs[j]; j++)
			assert_int_equal(strspn(c->inputs[j], "abcdefghijklmnopqrstuvwxyz_"),
			                 strlen(c->inputs[j]));
		assert_true(c->output_max_chars > 0);
	}
	assert_null(ai_contract_find("send_everything"));
	assert_null(ai_contract_at(3));
}

static char *accept(const char *task, const char *content, struct sk_err *err)
{
	return ai_contract_output(ai_contract_find(task), content, strlen(content), err);
}

static void a_plain_answer_is_accepted(void **state)
{
	(void)state;
	struct sk_err err = {0};
	char *t = accept("reading_answer",
	                 "{\"answer\":\"The Star: hope, R&D of the heart; 3 < 5.\\nRest.\"}", &err);
	assert_non_null(t);
	assert_string_equal(t, "The Star: hope, R&D of the heart; 3 < 5.\nRest.");
	free(t);
	t = accept("council_voice", "{\"body\":\"Caf\\u00e9 words \\u2014 fine.\"}", &err);
	assert_non_null(t);
	free(t);
}

static void unsafe_answers_are_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "{\"answer\":\"<script>x</script>\"}",
	        "{\"answer\":\"a <b>bold</b> claim\"}",
	        "{\"answer\":\"<!-- hidden -->\"}",
	        "{\"answer\":\"see https://evil.example\"}",
	        "{\"answer\":\"see www.evil.example\"}",
	        "{\"answer\":\"JavaScript:alert(1)\"}",
	        "{\"answer\":\"[x](y)\"}",
	        "{\"answer\":\"{{link}}\"}",
	        "{\"answer\":\"{% if %}\"}",
	        "{\"answer\":\"&lt;b&gt;\"}",
	        "{\"answer\":\"&#x3c;\"}",
	        "{\"answer\":\"a\\u202eb\"}",
	        "{\"answer\":\"a\\u2066b\"}",
	        "{\"answer\":\"a\\u0000b\"}",
	        "{\"answer\":\"a\\rb\"}",
	        "{\"answer\":\"\"}",
	        "{\"answer\":\" \\n \"}",
	        "{\"answer\":5}",
	        "{\"answer\":\"ok\",\"answer\":\"twice\"}",
	        "{\"answer\":\"ok\",\"more\":\"x\"}",
	        "{\"body\":\"wrong column\"}",
	        "[\"answer\"]",
	        "answer: plain text",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sk_err err = {0};
		char *t = accept("reading_answer", bad[i], &err);
		if (t)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(err.problem, PROBLEM_BAD_GATEWAY);
		assert_null(strstr(err.detail, "evil"));
	}
}

static void the_length_is_the_columns(void **state)
{
	(void)state;
	size_t n = 8001;
	char *doc = malloc(n + 16);
	assert_non_null(doc);
	snprintf(doc, n + 16, "%s", "{\"body\":\"");
	memset(doc + 9, 'x', n);
	memcpy(doc + 9 + n, "\"}", 3);
	struct sk_err err = {0};
	assert_null(accept("council_voice", doc, &err));
	assert_non_null(strstr(err.detail, "8001"));
	char *t = accept("echo_followup", doc, &err); /* echoes.body holds 20,000 */
	assert_non_null(t);
	free(t);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(only_declared_fields_are_taken),
	        cmocka_unit_test(every_contract_is_well_formed),
	        cmocka_unit_test(a_plain_answer_is_accepted),
	        cmocka_unit_test(unsafe_answers_are_refused),
	        cmocka_unit_test(the_length_is_the_columns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
