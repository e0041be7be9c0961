/*
 * render_bench.c — how fast the renderers are, on one thread (one core). Renders the sample
 * reading below again and again for a number of seconds and prints one JSON line with the
 * count, the wall time and the CPU time. bench/render.mjs runs it beside headless Chromium
 * printing the same reading's print view to PDF.
 *
 *   render_bench pdf|private_pdf|card SECONDS   the rate of one kind
 *   render_bench html                          the sample's print view (for Chromium)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/render.h"

static const struct render_spread_card cards[] = {
        {"The Star", "what was", false},
        {"Three of Cups", "what is", true},
        {"The Moon", "what may come", false},
};

static const char answer[] =
        "The Star stands where the road bends: what you have tended is not lost, only resting. "
        "The Three of Cups, reversed, asks who is missing from the table and why the chair was "
        "left empty. The Moon does not promise clarity; it promises a path that shows itself a "
        "step at a time. Walk it slowly. Speak first. Let the reply take the time it needs, and "
        "do not mistake the quiet for an answer.";

static double seconds(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int render_once(const char *kind, const struct render_public *pub,
                       const struct render_private *priv, size_t *bytes)
{
	struct buf out = {0};
	struct sk_err err;
	int rc;
	if (strcmp(kind, "card") == 0) {
		struct render_card card;
		render_card_from_public(pub, &card);
		rc = render_card_png(&card, &out, &err);
	} else {
		rc = render_reading_pdf(pub, strcmp(kind, "private_pdf") == 0 ? priv : NULL, NULL,
		                        &out, &err);
	}
	*bytes = out.len;
	buf_free(&out);
	return rc;
}

int main(int argc, char **argv)
{
	struct render_public pub = {
	        "The Star",
	        "Hope returns to what is tended.",
	        "scroll",
	        "2026-11-25T10:00:00Z",
	        "9f2c4e1a7b3d5f60819a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70",
	        cards,
	        3};
	struct render_private priv = {"Will my sister and I find our way back to each other?",
	                              answer};
	if (argc == 2 && strcmp(argv[1], "html") == 0) {
		struct sk_err err;
		char *html = render_print_html(&pub, &priv, &err);
		if (!html)
			return 1;
		fputs(html, stdout);
		free(html);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: render_bench pdf|private_pdf|card SECONDS | html\n");
		return 2;
	}
	double limit = atof(argv[2]);
	size_t bytes = 0;
	if (render_once(argv[1], &pub, &priv, &bytes) < 0) /* warm the font caches */
		return 1;
	double wall0 = seconds(CLOCK_MONOTONIC), cpu0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
	long n = 0;
	double wall = 0;
	do {
		if (render_once(argv[1], &pub, &priv, &bytes) < 0)
			return 1;
		n++;
		wall = seconds(CLOCK_MONOTONIC) - wall0;
	} while (wall < limit);
	double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	printf("{\"kind\":\"%s\",\"n\":%ld,\"wall_s\":%.3f,\"cpu_s\":%.3f,\"bytes\":%zu}\n",
	       argv[1], n, wall, cpu, bytes);
	return 0;
}
