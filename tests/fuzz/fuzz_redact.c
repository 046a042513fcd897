/* fuzz_redact.c - the one redaction (core/redact.c) on arbitrary text: the
 * input is values, one per line (a byte 0x01 in one stands for a newline:
 * values over lines, such as a key or a URL and its password), up to a line
 * "--", then the text (lines, "\r", cut pieces).  Beyond the sanitizers: the length it returns is the
 * length it writes, a cut output is a prefix of the whole, and a value that
 * stands alone on a line never survives. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/redact.h"

#define MAX_VALS 32

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *vals[MAX_VALS];
	char       *buf = malloc(size + 1), *p = buf, *text = NULL, *out, *cut;
	size_t      n = 0, need, need2;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	while (p != NULL) {
		char *nl = strchr(p, '\n');

		if (nl != NULL)
			*nl = '\0';
		if (strcmp(p, "--") == 0) {
			text = nl ? nl + 1 : p + 2;
			break;
		}
		if (n < MAX_VALS)
			vals[n++] = p;
		p = nl ? nl + 1 : NULL;
	}
	if (text == NULL)
		text = "";
	for (size_t i = 0; i < n; i++)
		for (char *q = (char *)vals[i]; (q = strchr(q, '\x01')) != NULL; q++)
			*q = '\n';
	need = redact(vals, n, true, text, NULL, 0);
	out = malloc(need + 1);
	cut = malloc(need / 2 + 1);
	if (out != NULL && cut != NULL) {
		need2 = redact(vals, n, true, text, out, need + 1);
		if (need2 != need || strlen(out) != need)
			abort();
		(void)redact(vals, n, true, text, cut, need / 2 + 1);
		if (strncmp(out, cut, strlen(cut)) != 0)
			abort();
		/* a value alone on a line (no "\n" in it, long enough) is gone */
		for (size_t i = 0; i < n; i++) {
			size_t len = strlen(vals[i]);

			if (len >= REDACT_MIN_LEN && strstr(vals[i], "://") == NULL &&
			    strcmp(text, vals[i]) == 0 && strcmp(out, REDACTED) != 0)
				abort();
		}
	}
	free(out);
	free(cut);
	free(buf);
	return 0;
}
