/*
 * test_render.c — the renderers on a hostile-text corpus (100 kB of text, a 10,000-character
 * word, right-to-left scripts, emoji, combining marks, control characters, invalid UTF-8):
 * every document renders, is what it says it is, and keeps its structure; the share card
 * cannot overflow; the print view escapes; the same input gives the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "domain/render.h"

static const struct render_spread_card cards[] = {
        {"The Star", "past", false},
        {"Three of Cups", "present", true},
        {"The Moon", "future", false},
        {"The Fool", "hidden", false},
};

static struct render_public public_of(const char *title, const char *line)
{
	struct render_public p = {
	        title,
	        line,
	        "scroll",
	        "2026-11-25T10:00:00.123456Z",
	        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	        cards,
	        4};
	return p;
}

/* Count occurrences of a byte string in a buffer. */
static size_t count(const struct buf *b, const char *needle)
{
	size_t n = 0, k = strlen(needle);
	for (size_t i = 0; i + k <= b->len; i++)
		if (memcmp(b->data + i, needle, k) == 0)
			n++;
	return n;
}

static size_t pages(const struct buf *pdf)
{
	return count(pdf, "/Type /Page\n") + count(pdf, "/Type /Page ") +
	       count(pdf, "/Type /Page>");
}

static char *repeat(const char *unit, size_t bytes)
{
	size_t k = strlen(unit);
	char *s = malloc(bytes + 1);
	assert_non_null(s);
	size_t o = 0;
	while (o + k <= bytes) {
		memcpy(s + o, unit, k);
		o += k;
	}
	s[o] = '\0';
	return s;
}

static void render_all(const char *title, const char *line, const char *question,
                       const char *answer, size_t min_pages)
{
	struct render_public pub = public_of(title, line);
	struct render_private priv = {question, answer};
	struct sk_err err = {0};

	struct buf pdf = {0};
	assert_int_equal(render_reading_pdf(&pub, &priv, NULL, &pdf, &err), 0);
	assert_true(pdf.len > 1000);
	assert_memory_equal(pdf.data, "%PDF-", 5);
	assert_true(pages(&pdf) >= min_pages);
	buf_free(&pdf);

	struct buf pub_pdf = {0};
	assert_int_equal(render_reading_pdf(&pub, NULL, "A gift for you", &pub_pdf, &err), 0);
	assert_memory_equal(pub_pdf.data, "%PDF-", 5);
	buf_free(&pub_pdf);

	struct render_card card;
	render_card_from_public(&pub, &card);
	assert_true(g_utf8_validate(card.title, -1, NULL));
	assert_true(g_utf8_validate(card.line, -1, NULL));
	assert_true(card.ncards <= 3);
	struct buf png = {0};
	assert_int_equal(render_card_png(&card, &png, &err), 0);
	assert_memory_equal(png.data, "\x89PNG\r\n\x1a\n", 8);
	/* IHDR: width and height, big-endian, right after the signature and chunk header. */
	const unsigned char *ihdr = (const unsigned char *)png.data + 16;
	assert_int_equal((ihdr[0] << 24) | (ihdr[1] << 16) | (ihdr[2] << 8) | ihdr[3], 1200);
	assert_int_equal((ihdr[4] << 24) | (ihdr[5] << 16) | (ihdr[6] << 8) | ihdr[7], 630);
	buf_free(&png);

	char *html = render_print_html(&pub, &priv, &err);
	assert_non_null(html);
	assert_true(g_utf8_validate(html, -1, NULL));
	assert_null(strstr(html, "<script"));
	free(html);
}

static void ordinary_reading(void **state)
{
	(void)state;
	render_all("The Star", "Hope returns to what is tended.", "Will it rain?", "It will.", 1);
}

static void hundred_kilobytes_paginate(void **state)
{
	(void)state;
	char *answer = repeat("The wheel turns and the river keeps its course. ", 100 * 1024);
	render_all("The Star", "Hope returns.", "Long?", answer, 20);
	free(answer);
}

static void a_ten_thousand_character_word_wraps(void **state)
{
	(void)state;
	char *word = repeat("x", 10000);
	render_all(word, word, word, word, 2);
	free(word);
}

static void scripts_emoji_and_marks(void **state)
{
	(void)state;
	render_all(
	        "نجمة الأمل", "שלום עולם — مرحبا بالعالم — mixed ltr",
	        "🌙✨🔮 👩🏽‍🚀 🏳️‍🌈 e\u0301\u0302\u0303\u0304 Z̸̢̧̛̩̙͎͚͕̲̝̟̀͊̓̍̓̈́͆̚ͅ",
	        "日本語の答え。中文。한국어. ᚠᚢᚦ 𓀀𓀁 ∑∫√ \u202Eevil\u202C \u200B\u200D", 1);
}

static void control_characters_and_invalid_utf8(void **state)
{
	(void)state;
	render_all("\x01\x02\x1b[31mred\x7f", "tab\there\r\nnew\fline\v",
	           "bad \xff\xfe\xc0\x80 \xed\xa0\x80 \xf4\x90\x80\x80 end", "\xe2\x82", 1);
}

static void markup_is_text_everywhere(void **state)
{
	(void)state;
	struct render_public pub =
	        public_of("<b>bold</b> & \"q\"", "<span foreground='red'>x</span>");
	struct render_private priv = {"<script>alert(1)</script>", "a & b < c"};
	struct sk_err err = {0};
	char *html = render_print_html(&pub, &priv, &err);
	assert_non_null(html);
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "&lt;b&gt;bold&lt;/b&gt; &amp; &quot;q&quot;"));
	assert_null(strstr(html, "<script>"));
	assert_null(strstr(html, "<b>bold"));
	free(html);
	/* Pango markup in a value is drawn as text: the layout does not fail on it. */
	render_all(pub.title, pub.line, priv.question, priv.answer, 1);
}

static void the_public_pdf_omits_the_private_text(void **state)
{
	(void)state;
	struct render_public pub = public_of("The Star", "Hope returns.");
	struct render_private priv = {"PRIVATEQ", "PRIVATEA"};
	struct sk_err err = {0};
	struct buf a = {0}, b = {0};
	assert_int_equal(render_reading_pdf(&pub, NULL, NULL, &a, &err), 0);
	assert_int_equal(render_reading_pdf(&pub, &priv, NULL, &b, &err), 0);
	/* The private document is larger by the text it adds; the public one is smaller. */
	assert_true(b.len > a.len);
	char *html = render_print_html(&pub, NULL, &err);
	assert_null(strstr(html, "PRIVATE"));
	free(html);
	buf_free(&a);
	buf_free(&b);
}

static void renders_are_deterministic(void **state)
{
	(void)state;
	struct render_public pub = public_of("The Star", "Hope returns.");
	struct render_private priv = {"q", "a"};
	struct sk_err err = {0};
	struct buf a = {0}, b = {0}, c = {0}, d = {0};
	assert_int_equal(render_reading_pdf(&pub, &priv, NULL, &a, &err), 0);
	assert_int_equal(render_reading_pdf(&pub, &priv, NULL, &b, &err), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	struct render_card card;
	render_card_from_public(&pub, &card);
	assert_int_equal(render_card_png(&card, &c, &err), 0);
	assert_int_equal(render_card_png(&card, &d, &err), 0);
	assert_int_equal(c.len, d.len);
	assert_memory_equal(c.data, d.data, c.len);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	buf_free(&d);
}

static void the_card_truncates_on_character_boundaries(void **state)
{
	(void)state;
	char *title = repeat("é", 4000); /* two bytes each: far over the card's room */
	struct render_public pub = public_of(title, title);
	struct render_card card;
	render_card_from_public(&pub, &card);
	assert_true(strlen(card.title) < sizeof(card.title));
	assert_true(strlen(card.line) < sizeof(card.line));
	assert_true(g_utf8_validate(card.title, -1, NULL));
	assert_true(g_utf8_validate(card.line, -1, NULL));
	assert_int_equal(card.ncards, 3);
	assert_string_equal(card.sealed_on, "25 November 2026");
	free(title);
}

static void dates(void **state)
{
	(void)state;
	char out[32];
	render_date("2026-11-25T10:00:00.123456Z", out, sizeof(out));
	assert_string_equal(out, "25 November 2026");
	render_date("2026-01-01T00:00:00+02:00", out, sizeof(out));
	assert_string_equal(out, "1 January 2026");
	render_date("not a date", out, sizeof(out));
	assert_string_equal(out, "");
	render_date("2026-13-40T00:00:00Z", out, sizeof(out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(ordinary_reading),
	        cmocka_unit_test(hundred_kilobytes_paginate),
	        cmocka_unit_test(a_ten_thousand_character_word_wraps),
	        cmocka_unit_test(scripts_emoji_and_marks),
	        cmocka_unit_test(control_characters_and_invalid_utf8),
	        cmocka_unit_test(markup_is_text_everywhere),
	        cmocka_unit_test(the_public_pdf_omits_the_private_text),
	        cmocka_unit_test(renders_are_deterministic),
	        cmocka_unit_test(the_card_truncates_on_character_boundaries),
	        cmocka_unit_test(dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
