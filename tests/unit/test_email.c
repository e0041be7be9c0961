/*
 * test_email.c — templates and composition: placeholders filled and escaped for their part,
 * one-line subjects, every template renders, and the composed message is well formed (CRLF,
 * base64 lines of at most 76 characters, RFC 2047 subjects, no header injection).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "domain/email.h"

static void fill_escapes_for_html_only(void **state)
{
	(void)state;
	struct email_value v[] = {{"name", "<b>Ann</b> & \"Bo\""},
	                          {"link", "https://x.test/?a=1&b=2"}};
	char *html = email_fill("<p>{{name}}</p><a href=\"{{link}}\">", v, 2, 1);
	assert_string_equal(
	        html,
	        "<p>&lt;b&gt;Ann&lt;/b&gt; &amp; &quot;Bo&quot;</p><a href=\"https://x.test/?a=1&amp;b=2\">");
	free(html);
	char *text = email_fill("Hello {{name}}", v, 2, 0);
	assert_string_equal(text, "Hello <b>Ann</b> & \"Bo\"");
	free(text);
}

static void fill_leaves_what_is_not_a_placeholder(void **state)
{
	(void)state;
	struct email_value v[] = {{"a", "A"}};
	char *s = email_fill("{{a}} {{missing}} {{ a }} {{A}} {{ {{a}} }} {{", v, 1, 0);
	assert_string_equal(s, "A  {{ a }} {{A}} {{ A }} {{");
	free(s);
	s = email_fill("", v, 1, 1);
	assert_string_equal(s, "");
	free(s);
}

static void fill_drops_control_characters_and_repairs_utf8(void **state)
{
	(void)state;
	struct email_value v[] = {{"m", "a\x01\x1b[31mb\r\nc\td\xff"}};
	char *s = email_fill("{{m}}", v, 1, 0);
	assert_true(g_utf8_validate(s, -1, NULL));
	assert_null(strchr(s, '\x1b'));
	assert_null(strchr(s, '\r'));
	assert_non_null(strstr(s, "\nc\td"));
	free(s);
}

static void every_template_renders(void **state)
{
	(void)state;
	const char *names[] = {"receipt", "artifact_ready", "gift", "echo", "access_recovery"};
	struct email_value v[] = {{"link", "https://oracle.test/x"},
	                          {"kind_label", "PDF"},
	                          {"name", "Ann"},
	                          {"message", "Hi"},
	                          {"product", "Council"},
	                          {"amount", "EUR 9.00"}};
	struct sk_err err = {0};
	for (size_t i = 0; i < 5; i++) {
		struct email_rendered r;
		assert_int_equal(email_render(names[i], v, 6, &r, &err), 0);
		assert_true(strlen(r.subject) > 0);
		assert_non_null(strstr(r.text, "https://oracle.test/x"));
		assert_non_null(strstr(r.html, "href=\"https://oracle.test/x\""));
		assert_non_null(strstr(r.html, "<!doctype html>"));
		email_rendered_free(&r);
	}
	struct email_rendered r;
	assert_int_equal(email_render("nope", v, 6, &r, &err), -1);
}

static void a_subject_is_one_line(void **state)
{
	(void)state;
	struct email_value v[] = {{"kind_label", "PDF\r\nBcc: victim@example.test"}};
	struct email_rendered r;
	struct sk_err err = {0};
	assert_int_equal(email_render("artifact_ready", v, 1, &r, &err), 0);
	assert_null(strchr(r.subject, '\n'));
	assert_null(strchr(r.subject, '\r'));
	char *msg = email_compose("A <a@x.test>", "b@x.test", "<sk-1@x.test>",
	                          "Wed, 25 Nov 2026 10:00:00 +0000", &r);
	assert_null(strstr(msg, "\r\nBcc:"));
	free(msg);
	email_rendered_free(&r);
}

static void compose_is_well_formed(void **state)
{
	(void)state;
	char *body = malloc(5001);
	memset(body, 'y', 5000);
	body[5000] = '\0';
	char subject[] =
	        "Ünïcödé subject that is long enough to need more than one encoded word ✨✨✨✨";
	struct email_rendered r = {subject, body, "<p>hi</p>"};
	char *msg = email_compose("The Oracle <oracle@x.test>", "b@x.test", "<sk-42@x.test>",
	                          "Wed, 25 Nov 2026 10:00:00 +0000", &r);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "\r\nMessage-ID: <sk-42@x.test>\r\n"));
	assert_non_null(strstr(msg, "\r\nTo: <b@x.test>\r\n"));
	assert_non_null(strstr(msg, "Subject: =?UTF-8?B?"));
	assert_non_null(strstr(msg, "multipart/alternative; boundary=\"sk-sk-42-x-test-\""));
	/* Every line ends in CRLF and is at most 76 characters (998 is the RFC's hard limit). */
	const char *line = msg;
	for (const char *p = msg; *p; p++) {
		if (*p == '\n') {
			assert_true(p > msg && p[-1] == '\r');
			assert_true((size_t)(p - line) <= 77);
			line = p + 1;
		} else {
			assert_true(*p != '\r' || p[1] == '\n');
		}
	}
	/* Each encoded word decodes to whole characters. */
	for (const char *w = strstr(msg, "=?UTF-8?B?"); w; w = strstr(w + 1, "=?UTF-8?B?")) {
		const char *start = w + 10, *end = strstr(start, "?=");
		assert_non_null(end);
		assert_true(end - w <= 75);
		char *b64 = g_strndup(start, (gsize)(end - start));
		gsize n = 0;
		guchar *raw = g_base64_decode(b64, &n);
		assert_true(g_utf8_validate((const char *)raw, (gssize)n, NULL));
		g_free(raw);
		g_free(b64);
	}
	free(msg);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(fill_escapes_for_html_only),
	        cmocka_unit_test(fill_leaves_what_is_not_a_placeholder),
	        cmocka_unit_test(fill_drops_control_characters_and_repairs_utf8),
	        cmocka_unit_test(every_template_renders),
	        cmocka_unit_test(a_subject_is_one_line),
	        cmocka_unit_test(compose_is_well_formed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
