/* test_imagemap.c - the site's image mirror table: the shipped (empty)
 * conf/image-mirrors.conf, lookups, and refusal of bad lines with
 * file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/imagemap.h"
#include "unit.h"

static int
parse(const char *text, struct imagemap *m, char *err, size_t errlen)
{
	return imagemap_parse(m, text, strlen(text), "m.conf", err, errlen);
}

static void
shipped(void)
{
	struct imagemap m;
	char            err[512] = "";

	/* make unit runs from the repository's root */
	CHECK(imagemap_load(&m, "conf/image-mirrors.conf", err, sizeof(err)) == 0, err);
	CHECK(m.n == 0, "the shipped table maps nothing");
	imagemap_free(&m);
	CHECK(imagemap_load(&m, "", err, sizeof(err)) == 0 && m.n == 0, "no file: an empty table");
	CHECK(imagemap_load(&m, "conf/no-such-mirrors.conf", err, sizeof(err)) == -1 &&
	    strcmp(err, "conf/no-such-mirrors.conf: cannot open") == 0, err);
}

static void
lookups(void)
{
	struct imagemap m;
	char            err[512] = "";
	const char     *ref = "gitea/gitea:1";

	CHECK(parse("# mirrors\n\n  n8nio/n8n:1 | localhost/launcher/tpl-n8n:test  \n"
	    "wordpress:6-php8.3-apache|registry.example:5000/library/wordpress:6-php8.3-apache\n"
	    "ghcr.io/plausible/community-edition:v2 | mirror.example/plausible@sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	    "localhost/launcher/tpl-n8n:test | never/chained:1", &m, err, sizeof(err)) == 0, err);
	CHECK(m.n == 4, "four rows, the last without a newline");
	CHECK(strcmp(imagemap_resolve(&m, "n8nio/n8n:1"), "localhost/launcher/tpl-n8n:test") == 0,
	    "mapped, white space trimmed");
	CHECK(strcmp(imagemap_resolve(&m, "wordpress:6-php8.3-apache"),
	    "registry.example:5000/library/wordpress:6-php8.3-apache") == 0, "registry with a port");
	CHECK(strncmp(imagemap_resolve(&m, "ghcr.io/plausible/community-edition:v2"),
	    "mirror.example/plausible@sha256:", 32) == 0, "a digest");
	CHECK(imagemap_resolve(&m, ref) == ref, "not listed: ref itself");
	CHECK(imagemap_resolve(&m, "docker.io/n8nio/n8n:1")[0] == 'd' &&
	    strcmp(imagemap_resolve(&m, "n8nio/n8n"), "n8nio/n8n") == 0, "exact match only");
	CHECK(imagemap_resolve(&m, "localhost/launcher/tpl-n8n:test")[0] == 'n',
	    "a replacement is not looked up again (one step)");
	imagemap_free(&m);
	CHECK(m.n == 0 && m.rows == NULL, "freed");
	CHECK(imagemap_resolve(NULL, ref) == ref && imagemap_resolve(&m, ref) == ref,
	    "no table: ref itself");
	CHECK(parse("", &m, err, sizeof(err)) == 0 && m.n == 0, "empty text: empty table");
}

static void
refused(void)
{
	static const struct { const char *text, *err; } bad[] = {
		{"# x\na:1\n", "m.conf:2: expected two columns: source-ref | replacement-ref"},
		{"a:1 | b:1 | c:1\n", "m.conf:1: expected two columns"},
		{"a:1 |\n", "m.conf:1: the replacement reference '' is empty"},
		{" | b:1\n", "m.conf:1: the source reference '' is empty"},
		{"a b:1 | c:1\n", "m.conf:1: the source reference 'a b:1' is not one image reference"},
		{"a:1 | c$:1\n", "m.conf:1: the replacement reference 'c$:1' is not one image reference"},
		{"-a:1 | c:1\n", "m.conf:1: the source reference '-a:1' starts with '-'"},
		{"a:1 | b:1\n\n# c\na:1 | c:1\n", "m.conf:4: 'a:1' is already mapped on line 1"},
	};
	struct imagemap m;
	char            err[512], name[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		snprintf(name, sizeof(name), "refused #%zu: %s", i, err);
		CHECK(parse(bad[i].text, &m, err, sizeof(err)) == -1 && m.n == 0 && m.rows == NULL &&
		    strncmp(err, bad[i].err, strlen(bad[i].err)) == 0, err[0] ? err : name);
	}
	CHECK(imagemap_parse(&m, "a:1 | b\0:1\n", 11, "m.conf", err, sizeof(err)) == -1 &&
	    strcmp(err, "m.conf: holds a NUL byte") == 0, "NUL byte");
	{
		/* IMAGEMAP_MAX rows pass; one more is refused on its line. */
		size_t n = (IMAGEMAP_MAX + 1) * 32, o = 0;
		char  *t = malloc(n);

		for (int i = 0; t != NULL && i <= IMAGEMAP_MAX; i++)
			o += (size_t)snprintf(t + o, n - o, "s%d:1 | r%d:1\n", i, i);
		CHECK(t != NULL && imagemap_parse(&m, t, o, "m.conf", err, sizeof(err)) == -1 &&
		    strcmp(err, "m.conf:4097: more than 4096 rows") == 0, err);
		CHECK(t != NULL && imagemap_parse(&m, t, o - strlen(strrchr(t, 's')), "m.conf", err,
		    sizeof(err)) == 0 && m.n == IMAGEMAP_MAX &&
		    strcmp(imagemap_resolve(&m, "s4095:1"), "r4095:1") == 0, "4096 rows, sorted lookup");
		imagemap_free(&m);
		free(t);
	}
}

int
main(void)
{
	shipped();
	lookups();
	refused();
	return unit_done("imagemap");
}
