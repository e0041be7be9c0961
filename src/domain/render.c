/*
 * render.c — drawing readings with cairo and pango (see render.h).
 *
 * A struct pen carries the drawing position across pages: text is laid out once per block,
 * then drawn line by line, starting a new page whenever the next line would cross the bottom
 * margin (on a PDF) or stopping there (on a single image).
 */
#include "render.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <glib.h>
#include <pango/pangocairo.h>
#include <png.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A4_W   595.276
#define A4_H   841.890
#define MARGIN 64.0

static const double paper[3] = {0.985, 0.968, 0.930};
static const double ink[3] = {0.137, 0.122, 0.200};
static const double gold[3] = {0.690, 0.522, 0.235};
static const double muted[3] = {0.420, 0.400, 0.470};
static const double night_top[3] = {0.102, 0.082, 0.216};
static const double night_bottom[3] = {0.243, 0.141, 0.365};
static const double starlight[3] = {0.965, 0.945, 0.890};

/* ---- output surfaces ---- */

static cairo_status_t append(void *closure, const unsigned char *data, unsigned int len)
{
	struct buf *b = closure;
	buf_append(b, (const char *)data, len);
	return buf_failed(b) ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

/* "2026-11-25T10:00:00.123Z" -> "2026-11-25T10:00:00", the form cairo's PDF metadata takes. */
static void pdf_date(const char *rfc3339, char out[20])
{
	if (rfc3339 && strlen(rfc3339) >= 19) {
		memcpy(out, rfc3339, 19);
		out[10] = 'T';
		out[19] = '\0';
	} else {
		snprintf(out, 20, "2026-01-01T00:00:00");
	}
}

static cairo_surface_t *pdf_surface(struct buf *out, double w, double h, const char *title,
                                    const char *date)
{
	cairo_surface_t *s = cairo_pdf_surface_create_for_stream(append, out, w, h);
	char d[20];
	pdf_date(date, d);
	/* Fixed dates make the same reading render to the same bytes. */
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATE_DATE, d);
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_MOD_DATE, d);
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, title);
	cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "scrollkeep");
	return s;
}

static int finish_surface(cairo_surface_t *s, cairo_t *cr, struct buf *out, struct sk_err *err)
{
	cairo_status_t st = cairo_status(cr);
	cairo_destroy(cr);
	cairo_surface_finish(s);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(s);
	cairo_surface_destroy(s);
	if (st != CAIRO_STATUS_SUCCESS || buf_failed(out))
		return err_set(err, PROBLEM_INTERNAL, "rendering failed: %s",
		               cairo_status_to_string(st));
	return 0;
}

/* ---- text ---- */

/* Valid UTF-8 of at most max_bytes, cut at a character boundary; the caller g_free()s it. */
static char *safe_text(const char *text, size_t max_bytes)
{
	if (!text)
		return g_strdup("");
	size_t n = strlen(text);
	if (n > max_bytes)
		n = max_bytes;
	char *valid = g_utf8_make_valid(text, (gssize)n);
	return valid;
}

struct pen {
	cairo_t *cr;
	double y, top, bottom, left, width;
	int page;
	bool paged; /* a PDF breaks pages; an image stops at the bottom */
	bool full;  /* an image ran out of room */
	const char *footer;
	void (*background)(struct pen *p);
};

static void set_rgb(cairo_t *cr, const double c[3])
{
	cairo_set_source_rgb(cr, c[0], c[1], c[2]);
}

static PangoLayout *layout_for(cairo_t *cr, const char *text, const char *font, double width,
                               int max_lines)
{
	PangoLayout *layout = pango_cairo_create_layout(cr);
	PangoFontDescription *fd = pango_font_description_from_string(font);
	pango_layout_set_font_description(layout, fd);
	pango_font_description_free(fd);
	pango_layout_set_width(layout, (int)(width * PANGO_SCALE));
	pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
	if (max_lines > 0) {
		pango_layout_set_height(layout, -max_lines);
		pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END);
	}
	pango_layout_set_text(layout, text, -1);
	return layout;
}

static void page_footer(struct pen *p)
{
	cairo_t *cr = p->cr;
	char label[96];
	snprintf(label, sizeof(label), "%d", p->page);
	PangoLayout *l = layout_for(cr, label, "DejaVu Serif 8", 40, 1);
	set_rgb(cr, muted);
	cairo_move_to(cr, A4_W - MARGIN - 20, A4_H - MARGIN / 2 - 4);
	pango_cairo_show_layout(cr, l);
	g_object_unref(l);
	if (p->footer) {
		l = layout_for(cr, p->footer, "DejaVu Sans Mono 6.5", A4_W - 2 * MARGIN - 60, 1);
		cairo_move_to(cr, MARGIN, A4_H - MARGIN / 2 - 2);
		pango_cairo_show_layout(cr, l);
		g_object_unref(l);
	}
}

static void new_page(struct pen *p)
{
	page_footer(p);
	cairo_show_page(p->cr);
	p->page++;
	if (p->background)
		p->background(p);
	p->y = p->top;
}

/* Draw text as wrapped lines from the pen's position, breaking pages as needed. */
static void pen_text(struct pen *p, const char *text, const char *font, const double color[3],
                     PangoAlignment align, double space_after)
{
	if (p->full)
		return;
	char *safe = safe_text(text, 256 * 1024);
	PangoLayout *layout = layout_for(p->cr, safe, font, p->width, 0);
	pango_layout_set_alignment(layout, align);
	PangoLayoutIter *it = pango_layout_get_iter(layout);
	do {
		PangoRectangle logical;
		pango_layout_iter_get_line_extents(it, NULL, &logical);
		double h = (double)logical.height / PANGO_SCALE;
		if (p->y + h > p->bottom) {
			if (!p->paged) {
				p->full = true;
				break;
			}
			new_page(p);
		}
		double baseline =
		        (double)(pango_layout_iter_get_baseline(it) - logical.y) / PANGO_SCALE;
		set_rgb(p->cr, color);
		cairo_move_to(p->cr, p->left + (double)logical.x / PANGO_SCALE, p->y + baseline);
		pango_cairo_show_layout_line(p->cr, pango_layout_iter_get_line_readonly(it));
		p->y += h;
	} while (pango_layout_iter_next_line(it));
	pango_layout_iter_free(it);
	g_object_unref(layout);
	g_free(safe);
	p->y += space_after;
}

static void pen_rule(struct pen *p, double space)
{
	if (p->y + space * 2 > p->bottom && p->paged)
		new_page(p);
	cairo_t *cr = p->cr;
	set_rgb(cr, gold);
	cairo_set_line_width(cr, 0.6);
	double mid = p->left + p->width / 2;
	cairo_move_to(cr, mid - 60, p->y + space);
	cairo_line_to(cr, mid + 60, p->y + space);
	cairo_stroke(cr);
	cairo_arc(cr, mid, p->y + space, 2.2, 0, 2 * G_PI);
	cairo_fill(cr);
	p->y += space * 2;
}

/* ---- the reading ---- */

void render_date(const char *rfc3339, char *out, size_t len)
{
	static const char *const months[] = {"January",   "February", "March",    "April",
	                                     "May",       "June",     "July",     "August",
	                                     "September", "October",  "November", "December"};
	int y, m, d;
	out[0] = '\0';
	if (rfc3339 && sscanf(rfc3339, "%4d-%2d-%2d", &y, &m, &d) == 3 && m >= 1 && m <= 12 &&
	    d >= 1 && d <= 31)
		snprintf(out, len, "%d %s %d", d, months[m - 1], y);
}

static void paper_background(struct pen *p)
{
	cairo_t *cr = p->cr;
	set_rgb(cr, paper);
	cairo_paint(cr);
	set_rgb(cr, gold);
	cairo_set_line_width(cr, 0.8);
	cairo_rectangle(cr, MARGIN / 2, MARGIN / 2, A4_W - MARGIN, A4_H - MARGIN);
	cairo_stroke(cr);
	cairo_set_line_width(cr, 0.3);
	cairo_rectangle(cr, MARGIN / 2 + 4, MARGIN / 2 + 4, A4_W - MARGIN - 8, A4_H - MARGIN - 8);
	cairo_stroke(cr);
}

static void draw_spread(struct pen *p, const struct render_public *pub)
{
	static const char *const numerals[] = {"I",   "II",   "III", "IV", "V",  "VI",
	                                       "VII", "VIII", "IX",  "X",  "XI", "XII"};
	pen_text(p, "THE SPREAD", "DejaVu Sans Bold 7.5", gold, PANGO_ALIGN_LEFT, 6);
	for (size_t i = 0; i < pub->ncards; i++) {
		const struct render_spread_card *c = &pub->cards[i];
		char line[3 * RENDER_CARD_TEXT];
		snprintf(line, sizeof(line), "%s.  %s%s", i < 12 ? numerals[i] : "·", c->card,
		         c->reversed ? "  (reversed)" : "");
		pen_text(p, line, "DejaVu Serif 11.5", ink, PANGO_ALIGN_LEFT, 0);
		pen_text(p, c->position, "DejaVu Serif Italic 9", muted, PANGO_ALIGN_LEFT, 5);
	}
}

/* The whole reading on pages of cr: the same drawing for every output. */
static void draw_reading(struct pen *p, const struct render_public *pub,
                         const struct render_private *priv, const char *heading)
{
	char date[64], meta[160];
	render_date(pub->sealed_at, date, sizeof(date));
	snprintf(meta, sizeof(meta), "Sealed %s%s%s", date, pub->product ? "  ·  " : "",
	         pub->product ? pub->product : "");
	pen_text(p, heading ? heading : "A READING", "DejaVu Sans Bold 8", gold, PANGO_ALIGN_CENTER,
	         10);
	pen_text(p, pub->title, "DejaVu Serif Bold 26", ink, PANGO_ALIGN_CENTER, 8);
	pen_text(p, pub->line, "DejaVu Serif Italic 13", muted, PANGO_ALIGN_CENTER, 6);
	pen_text(p, meta, "DejaVu Sans 8", muted, PANGO_ALIGN_CENTER, 0);
	pen_rule(p, 14);
	draw_spread(p, pub);
	if (priv) {
		pen_rule(p, 12);
		pen_text(p, "YOUR QUESTION", "DejaVu Sans Bold 7.5", gold, PANGO_ALIGN_LEFT, 6);
		pen_text(p, priv->question, "DejaVu Serif 12", ink, PANGO_ALIGN_LEFT, 14);
		pen_text(p, "THE ANSWER", "DejaVu Sans Bold 7.5", gold, PANGO_ALIGN_LEFT, 6);
		pen_text(p, priv->answer, "DejaVu Serif 11.5", ink, PANGO_ALIGN_LEFT, 10);
	}
}

int render_reading_pdf(const struct render_public *pub, const struct render_private *priv,
                       const char *heading, struct buf *out, struct sk_err *err)
{
	char title[512], footer[160];
	snprintf(title, sizeof(title), "%s", priv ? "A private reading" : "A reading");
	snprintf(footer, sizeof(footer), "seal sha256 %s",
	         pub->seal_sha256 ? pub->seal_sha256 : "");
	cairo_surface_t *s = pdf_surface(out, A4_W, A4_H, title, pub->sealed_at);
	cairo_t *cr = cairo_create(s);
	struct pen p = {.cr = cr,
	                .top = MARGIN + 8,
	                .y = MARGIN + 8,
	                .bottom = A4_H - MARGIN - 18,
	                .left = MARGIN + 14,
	                .width = A4_W - 2 * MARGIN - 28,
	                .page = 1,
	                .paged = true,
	                .footer = footer,
	                .background = paper_background};
	paper_background(&p);
	draw_reading(&p, pub, priv, heading);
	page_footer(&p);
	cairo_show_page(cr);
	return finish_surface(s, cr, out, err);
}

/* ---- the share card ---- */

void render_card_from_public(const struct render_public *pub, struct render_card *card)
{
	memset(card, 0, sizeof(*card));
	snprintf(card->title, sizeof(card->title), "%s", pub->title ? pub->title : "");
	snprintf(card->line, sizeof(card->line), "%s", pub->line ? pub->line : "");
	render_date(pub->sealed_at, card->sealed_on, sizeof(card->sealed_on));
	for (size_t i = 0; i < pub->ncards && i < 3; i++) {
		snprintf(card->cards[i], sizeof(card->cards[i]), "%s%s", pub->cards[i].card,
		         pub->cards[i].reversed ? " ↺" : "");
		card->ncards++;
	}
}

static void rounded_rect(cairo_t *cr, double x, double y, double w, double h, double r)
{
	cairo_new_sub_path(cr);
	cairo_arc(cr, x + w - r, y + r, r, -G_PI / 2, 0);
	cairo_arc(cr, x + w - r, y + h - r, r, 0, G_PI / 2);
	cairo_arc(cr, x + r, y + h - r, r, G_PI / 2, G_PI);
	cairo_arc(cr, x + r, y + r, r, G_PI, 3 * G_PI / 2);
	cairo_close_path(cr);
}

/* Draw text centred in a box of width (and, when box_h > 0, centred vertically in box_h). */
static void show_centered(cairo_t *cr, const char *text, const char *font, double x, double y,
                          double width, double box_h, int max_lines, const double color[3])
{
	char *safe = safe_text(text, 8192);
	PangoLayout *l = layout_for(cr, safe, font, width, max_lines);
	pango_layout_set_alignment(l, PANGO_ALIGN_CENTER);
	if (box_h > 0) {
		int lw, lh;
		pango_layout_get_pixel_size(l, &lw, &lh);
		y += (box_h - lh) / 2;
	}
	set_rgb(cr, color);
	cairo_move_to(cr, x, y);
	pango_cairo_show_layout(cr, l);
	g_object_unref(l);
	g_free(safe);
}

/* The card's backdrop, the same on every card: sky, stars, frame and eyebrow. */
static void draw_card_backdrop(cairo_t *cr)
{
	const double W = RENDER_CARD_WIDTH, H = RENDER_CARD_HEIGHT;
	cairo_pattern_t *sky = cairo_pattern_create_linear(0, 0, W, H);
	cairo_pattern_add_color_stop_rgb(sky, 0, night_top[0], night_top[1], night_top[2]);
	cairo_pattern_add_color_stop_rgb(sky, 1, night_bottom[0], night_bottom[1], night_bottom[2]);
	cairo_set_source(cr, sky);
	cairo_paint(cr);
	cairo_pattern_destroy(sky);
	/* A few fixed stars: the same card every time. */
	static const double stars[][3] = {{90, 80, 1.6},   {1080, 110, 2.0}, {1010, 520, 1.4},
	                                  {160, 540, 1.8}, {620, 48, 1.2},   {1130, 300, 1.1},
	                                  {60, 320, 1.3}};
	cairo_set_source_rgba(cr, starlight[0], starlight[1], starlight[2], 0.8);
	for (size_t i = 0; i < sizeof(stars) / sizeof(stars[0]); i++) {
		cairo_arc(cr, stars[i][0], stars[i][1], stars[i][2], 0, 2 * G_PI);
		cairo_fill(cr);
	}
	cairo_set_source_rgba(cr, gold[0], gold[1], gold[2], 0.85);
	cairo_set_line_width(cr, 2);
	rounded_rect(cr, 28, 28, W - 56, H - 56, 22);
	cairo_stroke(cr);
	show_centered(cr, "A  READING", "DejaVu Sans Bold 15", 100, 78, W - 200, 0, 1, gold);
}

/* What the card says, over the backdrop. 1200 x 630 units, whatever the surface. */
static void draw_card_text(cairo_t *cr, const struct render_card *card)
{
	const double W = RENDER_CARD_WIDTH;
	show_centered(cr, card->title, "DejaVu Serif Bold 54", 100, 112, W - 200, 0, 2, starlight);
	show_centered(cr, card->line, "DejaVu Serif Italic 25", 140, 268, W - 280, 0, 2, starlight);

	double tile_w = 260, gap = 30;
	double total = card->ncards * tile_w + (card->ncards ? (card->ncards - 1) * gap : 0);
	for (size_t i = 0; i < card->ncards; i++) {
		double x = (W - total) / 2 + (double)i * (tile_w + gap);
		cairo_set_source_rgba(cr, 1, 1, 1, 0.08);
		rounded_rect(cr, x, 392, tile_w, 104, 14);
		cairo_fill_preserve(cr);
		cairo_set_source_rgba(cr, gold[0], gold[1], gold[2], 0.7);
		cairo_set_line_width(cr, 1.2);
		cairo_stroke(cr);
		show_centered(cr, card->cards[i], "DejaVu Serif 21", x + 12, 392, tile_w - 24, 104,
		              2, starlight);
	}
	char footer[64];
	snprintf(footer, sizeof(footer), "sealed  %s", card->sealed_on);
	show_centered(cr, footer, "DejaVu Sans 15", 100, 538, W - 200, 0, 1, gold);
}

static void png_append(png_structp png, png_bytep data, size_t len)
{
	buf_append(png_get_io_ptr(png), (const char *)data, len);
}

static void png_no_flush(png_structp png)
{
	(void)png;
}

/*
 * Encode an opaque RGB24 surface as PNG through libpng rather than cairo's own writer, which
 * cannot be tuned: trying every row filter at zlib level 6, it spent four fifths of a card's
 * time in libpng and zlib. The card is smooth gradient and flat colour, which deflate alone
 * packs well: no filter and level 3 give a 92 kB file (cairo's: 74 kB) four times as fast
 * (bench/render).
 */
static int encode_png(cairo_surface_t *s, struct buf *out)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return -1;
	}
	int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
	int stride = cairo_image_surface_get_stride(s);
	unsigned char *data = cairo_image_surface_get_data(s);
	png_bytep *rows = malloc(sizeof(*rows) * (size_t)h);
	if (!rows || setjmp(png_jmpbuf(png))) {
		free(rows);
		png_destroy_write_struct(&png, &info);
		return -1;
	}
	for (int y = 0; y < h; y++)
		rows[y] = data + (size_t)y * (size_t)stride;
	png_set_write_fn(png, out, png_append, png_no_flush);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
	             PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_set_compression_level(png, 3);
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
	png_write_info(png, info);
	/* cairo's RGB24 is a native-endian 0x00RRGGBB word per pixel. */
	if (G_BYTE_ORDER == G_LITTLE_ENDIAN) {
		png_set_bgr(png);
		png_set_filler(png, 0, PNG_FILLER_AFTER);
	} else {
		png_set_filler(png, 0, PNG_FILLER_BEFORE);
	}
	png_write_image(png, rows);
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	free(rows);
	return 0;
}

/* The PNG backdrop is drawn once per process and copied under each card's text: painting the
 * full-size gradient cost a quarter of a card's time. */
static cairo_surface_t *backdrop;

static void draw_backdrop_once(void)
{
	backdrop = cairo_image_surface_create(CAIRO_FORMAT_RGB24, RENDER_CARD_WIDTH,
	                                      RENDER_CARD_HEIGHT);
	cairo_t *cr = cairo_create(backdrop);
	draw_card_backdrop(cr);
	cairo_destroy(cr);
	cairo_surface_flush(backdrop);
}

int render_card_png(const struct render_card *card, struct buf *out, struct sk_err *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, draw_backdrop_once);
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, RENDER_CARD_WIDTH,
	                                                RENDER_CARD_HEIGHT);
	cairo_t *cr = cairo_create(s);
	cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
	cairo_set_source_surface(cr, backdrop, 0, 0);
	cairo_paint(cr);
	cairo_set_operator(cr, CAIRO_OPERATOR_OVER);
	draw_card_text(cr, card);
	cairo_status_t st = cairo_status(cr);
	cairo_destroy(cr);
	cairo_surface_flush(s);
	int rc = st == CAIRO_STATUS_SUCCESS ? encode_png(s, out) : -1;
	cairo_surface_destroy(s);
	if (rc < 0 || buf_failed(out))
		return err_set(err, PROBLEM_INTERNAL, "rendering failed: %s",
		               cairo_status_to_string(st));
	return 0;
}

int render_card_pdf(const struct render_card *card, struct buf *out, struct sk_err *err)
{
	cairo_surface_t *s =
	        pdf_surface(out, RENDER_CARD_WIDTH, RENDER_CARD_HEIGHT, "A reading", NULL);
	cairo_t *cr = cairo_create(s);
	draw_card_backdrop(cr);
	draw_card_text(cr, card);
	cairo_show_page(cr);
	return finish_surface(s, cr, out, err);
}

/* ---- the print view ---- */

static void html_text(struct buf *b, const char *text)
{
	char *safe = safe_text(text, 256 * 1024);
	char *escaped = g_markup_escape_text(safe, -1);
	buf_puts(b, escaped);
	g_free(escaped);
	g_free(safe);
}

static const char print_css[] =
        "@page{size:A4;margin:22mm 20mm}"
        "body{font-family:'DejaVu Serif',Georgia,serif;color:#231f33;background:#fbf7ed;"
        "max-width:44em;margin:2em auto;padding:0 1.5em;line-height:1.55}"
        "header{text-align:center;border-bottom:1px solid #b0853c;padding-bottom:1em;margin-bottom:1.5em}"
        ".eyebrow{letter-spacing:.3em;font:bold .7em sans-serif;color:#b0853c}"
        "h1{font-size:2.1em;margin:.3em 0}.line{font-style:italic;color:#6b6678}"
        ".meta{font:.75em sans-serif;color:#6b6678}"
        "h2{font:bold .7em sans-serif;letter-spacing:.2em;color:#b0853c;margin-top:2em}"
        "ol.spread li{margin:.3em 0}.position{font-style:italic;color:#6b6678;font-size:.9em}"
        ".text{white-space:pre-wrap;overflow-wrap:anywhere}"
        "footer{margin-top:3em;font:.65em monospace;color:#6b6678;overflow-wrap:anywhere}"
        "@media print{body{background:none;margin:0;max-width:none}"
        "h2{break-after:avoid}li{break-inside:avoid}}";

char *render_print_html(const struct render_public *pub, const struct render_private *priv,
                        struct sk_err *err)
{
	struct buf b = {0};
	char date[64];
	render_date(pub->sealed_at, date, sizeof(date));
	buf_puts(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	             "<meta name=\"robots\" content=\"noindex\"><title>");
	html_text(&b, pub->title);
	buf_printf(&b,
	           "</title><style>%s</style></head><body><header>"
	           "<div class=\"eyebrow\">A READING</div><h1 dir=\"auto\">",
	           print_css);
	html_text(&b, pub->title);
	buf_puts(&b, "</h1><p class=\"line\" dir=\"auto\">");
	html_text(&b, pub->line);
	buf_printf(&b, "</p><p class=\"meta\">Sealed %s", date);
	if (pub->product) {
		buf_puts(&b, " · ");
		html_text(&b, pub->product);
	}
	buf_puts(&b, "</p></header><h2>THE SPREAD</h2><ol class=\"spread\">");
	for (size_t i = 0; i < pub->ncards; i++) {
		buf_puts(&b, "<li dir=\"auto\">");
		html_text(&b, pub->cards[i].card);
		if (pub->cards[i].reversed)
			buf_puts(&b, " (reversed)");
		buf_puts(&b, "<div class=\"position\">");
		html_text(&b, pub->cards[i].position);
		buf_puts(&b, "</div></li>");
	}
	buf_puts(&b, "</ol>");
	if (priv) {
		buf_puts(&b, "<h2>YOUR QUESTION</h2><p class=\"text\" dir=\"auto\">");
		html_text(&b, priv->question);
		buf_puts(&b, "</p><h2>THE ANSWER</h2><p class=\"text\" dir=\"auto\">");
		html_text(&b, priv->answer);
		buf_puts(&b, "</p>");
	}
	buf_puts(&b, "<footer>seal sha256 ");
	html_text(&b, pub->seal_sha256);
	buf_puts(&b, "</footer></body></html>\n");
	char *page = buf_take(&b);
	if (!page)
		err_set(err, PROBLEM_INTERNAL, "out of memory");
	return page;
}
