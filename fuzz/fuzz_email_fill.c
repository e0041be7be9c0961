/*
 * fuzz_email_fill.c — template filling and message composition on arbitrary input. The input
 * is split at the first NUL into a template and a value (given to every key the template
 * names). The HTML fill must never let a raw '<' from the value through, and the composed
 * message must never break a header line with what a value held.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *text = malloc(size + 2);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = text[size + 1] = '\0';
	const char *tmpl = text;
	const char *value = text + strlen(text) + (strlen(text) < size ? 1 : 0);
	struct email_value values[] = {{"a", value},
	                               {"link", value},
	                               {"name", value},
	                               {"message", value},
	                               {"kind_label", value}};

	char *html = email_fill("<p>{{a}}</p>", values, 5, 1);
	if (html && strchr(html + 3, '<') != strstr(html, "</p>"))
		abort(); /* the only '<' after the opening tag is the closing one */
	free(html);
	free(email_fill(tmpl, values, 5, 0));
	free(email_fill(tmpl, values, 5, 1));

	struct email_rendered r;
	struct sk_err err;
	if (email_render(size & 1 ? "gift" : "artifact_ready", values, 5, &r, &err) == 0) {
		char *msg = email_compose("A <a@x.test>", "b@x.test", "<sk-1@x.test>",
		                          "Wed, 25 Nov 2026 10:00:00 +0000", &r);
		/* The headers end at the first blank line; no header line may come from a value. */
		const char *end = msg ? strstr(msg, "\r\n\r\n") : NULL;
		const char *injected = msg ? strstr(msg, "\nX-Injected") : NULL;
		if (injected && end && injected < end)
			abort();
		free(msg);
		email_rendered_free(&r);
	}
	free(text);
	return 0;
}
