/*
 * test_yaml.c - the YAML reader and writer (core/yaml.c): the scalar
 * schema, positions, anchors and merges, the limits, errors with their
 * line, and that what the writer prints reads back equal.
 */
#include <stdlib.h>
#include <string.h>

#include "core/yaml.h"
#include "unit.h"

static struct yaml_doc *
parse(const char *text, char *err, int *line)
{
	return yaml_parse(text, strlen(text), err, 200, line, NULL);
}

static void
test_scalars(void)
{
	char err[200];
	struct yaml_doc *d = parse(
	    "a: 1\nb: \"1\"\nc: true\nd: 'true'\ne: ~\nf:\ng: 1.5\nh: 0x10\ni: text here\n"
	    "j: -3\nk: 1e3\nl: 1.2.3\nm: \"\"\nn: !!str 42\no: 10737418240\n", err, NULL);
	CHECK(d != NULL, "scalars parse");
	if (!d)
		return;
	const cJSON *r = yaml_root(d);
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(r, "a")), "plain 1 is a number");
	CHECK(cJSON_IsString(cJSON_GetObjectItem(r, "b")), "quoted 1 is a string");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r, "c")), "plain true is a bool");
	CHECK(cJSON_IsString(cJSON_GetObjectItem(r, "d")), "quoted true is a string");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "e")), "~ is null");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "f")), "empty is null");
	CHECK(cJSON_GetObjectItem(r, "g")->valuedouble == 1.5, "float");
	CHECK(cJSON_GetObjectItem(r, "h")->valuedouble == 16, "hex int");
	CHECK(!strcmp(cJSON_GetObjectItem(r, "i")->valuestring, "text here"), "plain string");
	CHECK(cJSON_GetObjectItem(r, "j")->valuedouble == -3, "negative int");
	CHECK(cJSON_GetObjectItem(r, "k")->valuedouble == 1000, "exponent");
	CHECK(cJSON_IsString(cJSON_GetObjectItem(r, "l")), "1.2.3 is a string");
	CHECK(cJSON_IsString(cJSON_GetObjectItem(r, "m")), "\"\" is a string");
	CHECK(cJSON_IsString(cJSON_GetObjectItem(r, "n")), "!!str 42 is a string");
	CHECK(cJSON_GetObjectItem(r, "o")->valuedouble == 10737418240.0, "a large int stays exact");
	CHECK(!strcmp(yaml_text(cJSON_GetObjectItem(r, "g")), "1.5") &&
	    !strcmp(yaml_text(cJSON_GetObjectItem(r, "h")), "0x10") &&
	    !strcmp(yaml_text(cJSON_GetObjectItem(r, "e")), "~") &&
	    !strcmp(yaml_text(cJSON_GetObjectItem(r, "f")), "") &&
	    !strcmp(yaml_text(cJSON_GetObjectItem(r, "c")), "true") &&
	    !strcmp(yaml_text(cJSON_GetObjectItem(r, "i")), "text here") &&
	    yaml_text(r) == NULL, "yaml_text: scalars as written");
	yaml_doc_free(d);
}

static void
test_positions(void)
{
	char err[200];
	const char *text =
	    "version: \"1.0\"\n"		/* 1 */
	    "applications:\n"		/* 2 */
	    "  web:\n"			/* 3 */
	    "    image_url: x\n"		/* 4 */
	    "    exposed_ports: [80, 443]\n"	/* 5 */
	    "    env:\n"			/* 6 */
	    "      - A\n"			/* 7 */
	    "      - B\n";		/* 8 */
	struct yaml_doc *d = parse(text, err, NULL);
	CHECK(d != NULL, "positions parse");
	if (!d)
		return;
	const cJSON *r = yaml_root(d);
	const cJSON *web = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "applications"), "web");
	int line = 0, col = 0;
	CHECK(yaml_where(d, web, &line, &col) && line == 3 && col == 3, "a member is at its key");
	const cJSON *ports = cJSON_GetObjectItem(web, "exposed_ports");
	CHECK(yaml_where(d, ports, &line, &col) && line == 5 && col == 5, "flow list at its key");
	CHECK(yaml_where(d, ports->child->next, &line, &col) && line == 5 && col == 25,
	    "flow element at itself");
	const cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(web, "env"), 1);
	CHECK(yaml_where(d, b, &line, NULL) && line == 8, "block element at its line");
	cJSON *other = cJSON_CreateNull();
	CHECK(!yaml_where(d, other, &line, NULL), "a foreign node has no position");
	cJSON_Delete(other);
	yaml_doc_free(d);
}

static void
test_anchors(void)
{
	char err[200];
	const char *text =
	    "x-common: &common\n"
	    "  restart: always\n"
	    "  image: base\n"
	    "services:\n"
	    "  web:\n"
	    "    <<: *common\n"
	    "    image: web\n"
	    "  worker:\n"
	    "    <<: [*common]\n"
	    "  list: &l [1, 2]\n"
	    "  again: *l\n";
	struct yaml_doc *d = parse(text, err, NULL);
	CHECK(d != NULL, "anchors parse");
	if (!d)
		return;
	const cJSON *s = cJSON_GetObjectItem(yaml_root(d), "services");
	const cJSON *web = cJSON_GetObjectItem(s, "web");
	CHECK(!strcmp(cJSON_GetObjectItem(web, "image")->valuestring, "web"), "own key wins a merge");
	CHECK(!strcmp(cJSON_GetObjectItem(web, "restart")->valuestring, "always"), "merged key");
	CHECK(!cJSON_GetObjectItem(web, "<<"), "no << member");
	const cJSON *worker = cJSON_GetObjectItem(s, "worker");
	CHECK(!strcmp(cJSON_GetObjectItem(worker, "image")->valuestring, "base"), "list merge");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(s, "again")) == 2, "alias of a list");
	yaml_doc_free(d);
	/* an anchored key, and an anchored mapping given to "<<", are freed
	 * before their aliases copy them */
	d = parse("&k a: 1\nb: *k\nc: {<<: &m {x: 1}}\nd: *m\n", err, NULL);
	CHECK(d && !strcmp(cJSON_GetObjectItem(yaml_root(d), "b")->valuestring, "a") &&
	    cJSON_GetObjectItem(cJSON_GetObjectItem(yaml_root(d), "d"), "x")->valuedouble == 1,
	    "aliases of freed anchors copy the anchored value");
	yaml_doc_free(d);
	d = parse(text, err, NULL);
	s = cJSON_GetObjectItem(yaml_root(d), "services");
	int line = 0;
	CHECK(yaml_where(d, cJSON_GetObjectItem(s, "again"), &line, NULL) && line == 11,
	    "an alias's value is at its key");
	yaml_doc_free(d);
}

static void
test_errors(void)
{
	char err[200];
	int line = 0;
	CHECK(!parse("a: 1\nb: [1, 2\n", err, &line) && line >= 2, "unclosed flow list");
	CHECK(!parse("a: 1\na: 2\n", err, &line) && line == 2 && strstr(err, "duplicate key"),
	    "duplicate key at its line");
	CHECK(!parse("a: *nope\n", err, &line) && line == 1 && strstr(err, "unknown alias"),
	    "unknown alias");
	CHECK(!parse("a: 1\n---\nb: 2\n", err, &line) && line == 2 && strstr(err, "one YAML"),
	    "two documents");
	CHECK(!parse("? [a, b]\n: 1\n", err, &line) && strstr(err, "scalar"), "a list as a key");
	CHECK(!yaml_parse("a: 1\0", 5, err, sizeof(err), &line, NULL), "a NUL byte");
	CHECK(!parse("a: b\n  c: d\n", err, &line) && line == 2 && !strncmp(err, "line 2", 6),
	    "bad indentation names its line");
	/* the billion laughs: nine levels of ten aliases */
	const char *bomb =
	    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
	CHECK(!parse(bomb, err, &line) && strstr(err, "100000 nodes"), "an alias bomb stops");
	char deep[71];
	memset(deep, '[', 70);
	deep[70] = '\0';
	CHECK(!parse(deep, err, &line) && strstr(err, "nesting"), "too deep");
	struct yaml_doc *d = parse("", err, &line);
	CHECK(d && cJSON_IsNull(yaml_root(d)), "empty text is null");
	yaml_doc_free(d);
}

static void
test_emit_roundtrip(void)
{
	char err[200];
	cJSON *t = cJSON_Parse(
	    "{\"version\":\"1.0\",\"n\":5678,\"f\":0.25,\"t\":true,\"s\":\"true\",\"z\":null,"
	    "\"num\":\"1.0\",\"e\":\"\",\"multi\":\"line one\\nline two\\n\",\"colon\":\"a: b\","
	    "\"hash\":\"# x\",\"ref\":\"${db.main.host}:${db.main.port}\",\"list\":[1,\"2\",{\"k\":[]}],"
	    "\"empty\":{},\"big\":10737418240,\"dash\":\"- x\",\"merge\":\"<<\",\"u\":\"é\","
	    "\"yes\":\"yes\",\"off\":\"Off\"}");
	char *y = yaml_emit(t);
	CHECK(y != NULL, "emit");
	struct yaml_doc *d = y ? parse(y, err, NULL) : NULL;
	CHECK(d != NULL, "the emitted text parses");
	CHECK(d && cJSON_Compare(yaml_root(d), t, 1), "and reads back equal");
	if (d && !cJSON_Compare(yaml_root(d), t, 1))
		printf("%s\n", y);
	CHECK(y && strstr(y, "big: 10737418240\n") && strstr(y, "version: \"1.0\"\n"), "plain where it can");
	CHECK(y && strstr(y, "\"yes\": \"yes\"\n") && strstr(y, "\"Off\"\n"),
	    "YAML 1.1 booleans quoted");
	yaml_doc_free(d);
	free(y);
	cJSON_Delete(t);
}

int
main(void)
{
	test_scalars();
	test_positions();
	test_anchors();
	test_errors();
	test_emit_roundtrip();
	return unit_done("yaml");
}
