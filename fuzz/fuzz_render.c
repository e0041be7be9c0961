/*
 * fuzz_render.c — the renderers on arbitrary text. The input is split at NUL bytes into the
 * title, the line, the question, the answer and one card's name; each document kind is
 * rendered from them. Anything may come back but a crash, a leak or undefined behaviour; a
 * successful render must look like its format.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096) /* a render costs milliseconds: keep the fuzzer exploring, not waiting */
		return 0;
	char *text = malloc(size + 6);
	if (!text)
		return 0;
	memcpy(text, data, size);
	memset(text + size, 0, 6);
	const char *field[5];
	const char *p = text;
	for (size_t i = 0; i < 5; i++) {
		field[i] = p;
		if (p < text + size)
			p += strlen(p) + 1;
	}
	struct render_spread_card card = {{0}, "present", size & 1};
	strncpy(card.card, field[4], sizeof(card.card) - 1);
	struct render_public pub = {field[0], field[1], "scroll", "2026-11-25T10:00:00Z",
	                            "00",     &card,    1};
	struct render_private priv = {field[2], field[3]};
	struct sk_err err;

	struct buf pdf = {0};
	if (render_reading_pdf(&pub, &priv, NULL, &pdf, &err) == 0 &&
	    memcmp(pdf.data, "%PDF-", 5) != 0)
		abort();
	buf_free(&pdf);
	struct render_card c;
	render_card_from_public(&pub, &c);
	struct buf png = {0};
	if (render_card_png(&c, &png, &err) == 0 && memcmp(png.data, "\x89PNG", 4) != 0)
		abort();
	buf_free(&png);
	free(render_print_html(&pub, &priv, &err));
	free(text);
	return 0;
}
