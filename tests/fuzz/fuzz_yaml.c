/* fuzz_yaml.c - the YAML reader and writer (core/yaml.c) on arbitrary text.
 * Beyond the sanitizers, it checks the contract: an error names a line and a
 * column; every node of a parsed tree has a position; and what the writer
 * prints of a tree reads back equal to it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/yaml.h"

static void
positions(const struct yaml_doc *d, const cJSON *n)
{
	if (!yaml_where(d, n, NULL, NULL))
		abort();
	for (const cJSON *k = n->child; k; k = k->next)
		positions(d, k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	int line = 0, col = 0;
	struct yaml_doc *d = yaml_parse((const char *)data, size, err, sizeof(err), &line, &col);

	if (d == NULL) {
		if (line < 1 || col < 1 || strncmp(err, "line ", 5) != 0)
			abort();
		return 0;
	}
	positions(d, yaml_root(d));
	char *text = yaml_emit(yaml_root(d));
	if (text == NULL)
		abort();
	struct yaml_doc *again = yaml_parse(text, strlen(text), err, sizeof(err), NULL, NULL);
	if (again == NULL || !cJSON_Compare(yaml_root(d), yaml_root(again), 1))
		abort();
	yaml_doc_free(again);
	free(text);
	yaml_doc_free(d);
	return 0;
}
