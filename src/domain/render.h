/*
 * render.h — a reading as documents: the designed PDF (public fields only, or with the
 * person's question and answer for the owner), the 1200x630 share card, and the print view.
 *
 * The drawing code is written once against a cairo_t and goes to either output: a PDF surface
 * (paginated, vector text) or an image surface (PNG). Text is laid out by Pango: it wraps
 * (breaking inside over-long words), runs right-to-left where the script does, and falls back
 * to whatever installed font has the glyph. Text is always set as text, never as markup, and
 * invalid UTF-8 is repaired first, so no input can inject formatting or crash the layout.
 *
 * What a document may show is fixed by its struct: struct render_card has no field for the
 * question or the answer, so a share card cannot even be given them. Renders are
 * deterministic (the PDF's dates are the reading's), so the same reading gives the same bytes.
 */
#ifndef SK_RENDER_H
#define SK_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

#define RENDER_MAX_CARDS 78
#define RENDER_CARD_TEXT 257 /* 64 characters of up to 4 bytes, and the NUL */

struct render_spread_card {
	char card[RENDER_CARD_TEXT];
	char position[RENDER_CARD_TEXT];
	bool reversed;
};

/* The safe face of a reading: what a public PDF, a gift and a share card may show. */
struct render_public {
	const char *title;     /* public_title */
	const char *line;      /* public_line */
	const char *product;   /* product_code */
	const char *sealed_at; /* RFC 3339 */
	const char *seal_sha256;
	const struct render_spread_card *cards;
	size_t ncards;
};

/* The owner's private document adds the question and the answer. */
struct render_private {
	const char *question;
	const char *answer;
};

/* The share card: safe fields only, by construction. */
struct render_card {
	char title[4 * 120 + 1];
	char line[4 * 280 + 1];
	char sealed_on[32];                  /* "25 November 2026" */
	char cards[3][RENDER_CARD_TEXT + 8]; /* the card's name, and a mark when reversed */
	size_t ncards;                       /* at most three cards are shown */
};

#define RENDER_CARD_WIDTH  1200
#define RENDER_CARD_HEIGHT 630

/* The reading as a PDF (A4, as many pages as the text needs). priv NULL: public fields only.
 * heading, when not NULL, replaces the default "A reading" eyebrow ("A gift for you"). */
int render_reading_pdf(const struct render_public *pub, const struct render_private *priv,
                       const char *heading, struct buf *out, struct sk_err *err);

/* The share card, from the public fields (only the first three cards are drawn). */
void render_card_from_public(const struct render_public *pub, struct render_card *card);

/* The share card as PNG (1200x630) or as a one-page PDF of the same drawing. */
int render_card_png(const struct render_card *card, struct buf *out, struct sk_err *err);
int render_card_pdf(const struct render_card *card, struct buf *out, struct sk_err *err);

/* The print view: a self-contained HTML page with print CSS, every value escaped. priv NULL:
 * public fields only. Returns the page (the caller frees it) or NULL. */
char *render_print_html(const struct render_public *pub, const struct render_private *priv,
                        struct sk_err *err);

/* "2026-11-25T10:00:00.123456Z" -> "25 November 2026" (empty when unparseable). */
void render_date(const char *rfc3339, char *out, size_t len);

#endif
