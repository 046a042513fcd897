/*
 * test_resolve.c - the reference resolver (core/resolve.c): a table of maps
 * with the values and errors each must give, then the cases whose input is
 * generated (huge values, exponential blow-up, the total ceiling, a long
 * chain) and the lookup's contract (called once per distinct reference).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "core/resolve.h"
#include "unit.h"

#define BIG_LEN (700 * 1024)

static int lookups;

/* The resources of the test environment: db pg, db my-pg, db big (a 700 KiB
 * url), bucket media, fn hook.  Messages as env_refs.c words them. */
static int
lookup(void *ctx, const char *kind, const char *name, const char *prop, char **out,
    char **why)
{
	char buf[256];

	(void)ctx;
	lookups++;
	*out = *why = NULL;
	if (strcmp(kind, "db") == 0) {
		if (strcmp(prop, "url") != 0 && strcmp(prop, "host") != 0 && strcmp(prop, "port") != 0) {
			snprintf(buf, sizeof(buf), "unknown property %s of a database", prop);
			*why = strdup(buf);
			return -1;
		}
		if (strcmp(name, "big") == 0 && strcmp(prop, "url") == 0) {
			*out = malloc(BIG_LEN + 1);
			memset(*out, 'b', BIG_LEN);
			(*out)[BIG_LEN] = '\0';
			return 0;
		}
		if (strcmp(name, "pg") == 0 || strcmp(name, "my-pg") == 0) {
			if (strcmp(prop, "url") == 0)
				snprintf(buf, sizeof(buf), "postgres://u:pw@%s:5432/app", name);
			else
				snprintf(buf, sizeof(buf), "%s", strcmp(prop, "host") == 0 ? name : "5432");
			*out = strdup(buf);
			return 0;
		}
		snprintf(buf, sizeof(buf), "no database named %s in this environment", name);
	} else if (strcmp(kind, "bucket") == 0 && strcmp(name, "media") == 0 &&
	           strcmp(prop, "endpoint") == 0) {
		*out = strdup("https://s3.local");
		return 0;
	} else if (strcmp(kind, "bucket") == 0) {
		snprintf(buf, sizeof(buf), "no bucket named %s in this environment", name);
	} else if (strcmp(kind, "fn") == 0 && strcmp(name, "hook") == 0 && strcmp(prop, "url") == 0) {
		*out = strdup("https://fn.local/hook");
		return 0;
	} else if (strcmp(kind, "fn") == 0) {
		snprintf(buf, sizeof(buf), "no function named %s in this environment", name);
	} else
		snprintf(buf, sizeof(buf), "unknown resource kind %s", kind);
	*why = strdup(buf);
	return -1;
}

#define MAXV 8
#define MAXE 6

/* in: "KEY=VALUE"; want: "KEY=VALUE" resolved, "KEY!" failed (in order of in);
 * errs: "KEY\tmessage", exactly, in the resolver's order. */
struct tc {
	const char *name;
	const char *in[MAXV];
	const char *want[MAXV];
	const char *errs[MAXE];
};

#define MALF "malformed reference (expected ${VAR} or ${kind.name.property}; write $${ for a literal ${)"
#define UNTERM "unterminated reference (no closing }; write $${ for a literal ${)"

static const struct tc cases[] = {
	/* plain values and literals */
	{"plain", {"A=hello"}, {"A=hello"}},
	{"empty value", {"A="}, {"A="}},
	{"no variables at all", {NULL}, {NULL}},
	{"lone dollars", {"A=cost $5 and $"}, {"A=cost $5 and $"}},
	{"dollar name is not a reference", {"A=$HOME/x"}, {"A=$HOME/x"}},
	{"double dollar without brace", {"A=a$$b$$"}, {"A=a$$b$$"}},
	{"closing brace alone", {"A=x}y{z"}, {"A=x}y{z"}},
	/* ${VAR} */
	{"whole value", {"A=x", "B=${A}"}, {"A=x", "B=x"}},
	{"inside a string", {"A=x", "B=pre-${A}-post"}, {"A=x", "B=pre-x-post"}},
	{"several per value", {"A=1", "B=2", "C=${A}:${B}/${A}"}, {"A=1", "B=2", "C=1:2/1"}},
	{"adjacent", {"A=1", "B=2", "C=${A}${B}${A}"}, {"A=1", "B=2", "C=121"}},
	{"brace after a reference", {"A=x", "B=${A}}"}, {"A=x", "B=x}"}},
	{"reference to an empty value", {"A=", "B=<${A}>"}, {"A=", "B=<>"}},
	{"underscores and digits", {"_A1=v", "b_2=${_A1}"}, {"_A1=v", "b_2=v"}},
	{"keys are case-sensitive", {"a=low", "A=up", "B=${a}${A}"}, {"a=low", "A=up", "B=lowup"}},
	{"chain of 3", {"A=${B}", "B=${C}", "C=v"}, {"A=v", "B=v", "C=v"}},
	{"chain of 5 with text", {"A=a${B}", "B=b${C}", "C=c${D}", "D=d${E}", "E=e"},
	    {"A=abcde", "B=bcde", "C=cde", "D=de", "E=e"}},
	{"diamond", {"A=${B}${C}", "B=${D}", "C=${D}", "D=d"}, {"A=dd", "B=d", "C=d", "D=d"}},
	{"duplicate key: the last one", {"A=first", "A=second", "B=${A}"},
	    {"A=first", "A=second", "B=second"}},
	/* escapes */
	{"escape", {"A=x", "B=$${A}"}, {"A=x", "B=${A}"}},
	{"escape inside a string", {"A=x $${HOME} y"}, {"A=x ${HOME} y"}},
	{"escape at the end", {"A=tail $${"}, {"A=tail ${"}},
	{"three dollars", {"A=x", "B=$$${A}"}, {"A=x", "B=$${A}"}},
	{"escape beside a reference", {"A=x", "B=$${A}${A}"}, {"A=x", "B=${A}x"}},
	{"substituted text is not scanned", {"A=$${B}", "B=1", "C=${A}"}, {"A=${B}", "B=1", "C=${B}"}},
	{"escape of a malformed reference", {"A=$${not valid}"}, {"A=${not valid}"}},
	/* resources */
	{"db url", {"A=${db.pg.url}"}, {"A=postgres://u:pw@pg:5432/app"}},
	{"db in a string with a var", {"H=${db.pg.host}", "A=DSN=${db.pg.url}?h=${H}&p=${db.pg.port}"},
	    {"H=pg", "A=DSN=postgres://u:pw@pg:5432/app?h=pg&p=5432"}},
	{"slug with a hyphen", {"A=${db.my-pg.host}"}, {"A=my-pg"}},
	{"bucket and fn", {"A=${bucket.media.endpoint} ${fn.hook.url}"},
	    {"A=https://s3.local https://fn.local/hook"}},
	{"resource through a var", {"A=${db.pg.port}", "B=:${A}"}, {"A=5432", "B=:5432"}},
	{"unknown kind", {"A=${queue.jobs.url}"}, {"A!"},
	    {"A\t${queue.jobs.url}: unknown resource kind queue"}},
	{"unknown name", {"A=x${db.nope.url}y"}, {"A!"},
	    {"A\t${db.nope.url}: no database named nope in this environment"}},
	{"unknown property", {"A=${db.pg.colour}"}, {"A!"},
	    {"A\t${db.pg.colour}: unknown property colour of a database"}},
	{"unknown bucket and function", {"A=${bucket.x.endpoint}${fn.y.url}"}, {"A!"},
	    {"A\t${bucket.x.endpoint}: no bucket named x in this environment",
	     "A\t${fn.y.url}: no function named y in this environment"}},
	/* missing variables */
	{"missing", {"A=${NOPE}"}, {"A!"}, {"A\t${NOPE}: no variable NOPE in scope"}},
	{"missing twice is one error", {"A=${NOPE}-${NOPE}"}, {"A!"},
	    {"A\t${NOPE}: no variable NOPE in scope"}},
	{"two missing, by position", {"A=${Y} ${X}"}, {"A!"},
	    {"A\t${Y}: no variable Y in scope", "A\t${X}: no variable X in scope"}},
	{"errors in key order", {"Z=${NZ}", "B=${NB}", "M=ok"}, {"Z!", "B!", "M=ok"},
	    {"B\t${NB}: no variable NB in scope", "Z\t${NZ}: no variable NZ in scope"}},
	{"a dependant fails without its own error", {"A=${db.nope.url}", "B=x${A}", "C=${B}"},
	    {"A!", "B!", "C!"}, {"A\t${db.nope.url}: no database named nope in this environment"}},
	{"good and bad side by side", {"A=${NOPE}", "B=fine", "C=${B}"}, {"A!", "B=fine", "C=fine"},
	    {"A\t${NOPE}: no variable NOPE in scope"}},
	/* cycles */
	{"cycle of 1", {"A=x${A}"}, {"A!"}, {"A\t${A}: cycle A -> A"}},
	{"cycle of 2", {"A=${B}", "B=${A}"}, {"A!", "B!"},
	    {"A\t${B}: cycle B -> A -> B", "B\t${A}: cycle A -> B -> A"}},
	{"cycle of 5", {"A=${B}", "B=${C}", "C=${D}", "D=${E}", "E=${A}"}, {"A!", "B!", "C!", "D!", "E!"},
	    {"A\t${B}: cycle B -> C -> D -> E -> A -> B", "B\t${C}: cycle C -> D -> E -> A -> B -> C",
	     "C\t${D}: cycle D -> E -> A -> B -> C -> D", "D\t${E}: cycle E -> A -> B -> C -> D -> E",
	     "E\t${A}: cycle A -> B -> C -> D -> E -> A"}},
	{"cycle and a dependant", {"A=${B}", "B=${A}", "C=${A}", "D=ok"}, {"A!", "B!", "C!", "D=ok"},
	    {"A\t${B}: cycle B -> A -> B", "B\t${A}: cycle A -> B -> A"}},
	{"two cycles through one key", {"A=${B}${C}", "B=${A}", "C=${A}"}, {"A!", "B!", "C!"},
	    {"A\t${B}: cycle B -> A -> B", "A\t${C}: cycle C -> A -> C", "B\t${A}: cycle A -> B -> A",
	     "C\t${A}: cycle A -> C -> A"}},
	{"a cycle with a missing variable", {"A=${B}${NOPE}", "B=${A}"}, {"A!", "B!"},
	    {"A\t${B}: cycle B -> A -> B", "A\t${NOPE}: no variable NOPE in scope",
	     "B\t${A}: cycle A -> B -> A"}},
	/* malformed and unterminated */
	{"empty reference", {"A=${}"}, {"A!"}, {"A\t${}: " MALF}},
	{"spaces are not shown", {"A=ab${ A }"}, {"A!"}, {"A\t${…} at offset 2: " MALF}},
	{"two parts", {"A=${db.pg}"}, {"A!"}, {"A\t${db.pg}: " MALF}},
	{"four parts", {"A=${db.pg.url.x}"}, {"A!"}, {"A\t${db.pg.url.x}: " MALF}},
	{"upper-case kind", {"A=${DB.pg.url}"}, {"A!"}, {"A\t${DB.pg.url}: " MALF}},
	{"slug starting with a hyphen", {"A=${db.-pg.url}"}, {"A!"}, {"A\t${db.-pg.url}: " MALF}},
	{"digit first", {"A=${1A}"}, {"A!"}, {"A\t${1A}: " MALF}},
	{"nested", {"A=x", "B=${A${A}}"}, {"A=x", "B!"}, {"B\t${…} at offset 0: " MALF}},
	{"unterminated", {"A=x", "B=abc ${A"}, {"A=x", "B!"}, {"B\t${A: " UNTERM}},
	{"unterminated after a good one", {"A=x", "B=${A}${A"}, {"A=x", "B!"}, {"B\t${A: " UNTERM}},
	{"unterminated, not shown", {"B=pw ${s3cr!t"}, {"B!"}, {"B\t${… at offset 3: " UNTERM}},
};

static bool
run_case(const struct tc *t)
{
	struct resolve_var    vars[MAXV];
	char                  keys[MAXV][64];
	struct resolve_result res;
	size_t                n = 0, ne = 0;
	bool                  ok = true;
	int                   rc;

	for (; n < MAXV && t->in[n]; n++) {
		const char *eq = strchr(t->in[n], '=');

		snprintf(keys[n], sizeof(keys[n]), "%.*s", (int)(eq - t->in[n]), t->in[n]);
		vars[n] = (struct resolve_var){keys[n], eq + 1};
	}
	while (ne < MAXE && t->errs[ne])
		ne++;
	rc = resolve_all(vars, n, lookup, NULL, &res);
	if (rc != (ne ? 1 : 0)) {
		printf("  %s: rc %d\n", t->name, rc);
		ok = false;
	}
	for (size_t i = 0; i < n; i++) {
		const char *w = t->want[i], *eq = strchr(w, '=');

		if (eq == NULL ? res.values[i] != NULL : res.values[i] == NULL || strcmp(res.values[i], eq + 1) != 0) {
			printf("  %s: %s is \"%s\", want %s\n", t->name, keys[i],
			    res.values[i] ? res.values[i] : "(failed)", w);
			ok = false;
		}
	}
	for (size_t i = 0; i < res.nerr || i < ne; i++) {
		char got[1024];

		if (i < res.nerr)
			snprintf(got, sizeof(got), "%s\t%s", res.errs[i].key, res.errs[i].message);
		if (i >= res.nerr || i >= ne || strcmp(got, t->errs[i]) != 0) {
			printf("  %s: error %zu is \"%s\", want \"%s\"\n", t->name, i,
			    i < res.nerr ? got : "(none)", i < ne ? t->errs[i] : "(none)");
			ok = false;
		}
	}
	resolve_result_free(&res, n);
	return ok;
}

/* A string of len copies of c (malloc'd). */
static char *
fill(size_t len, char c)
{
	char *s = malloc(len + 1);

	memset(s, c, len);
	s[len] = '\0';
	return s;
}

static void
test_sizes(void)
{
	struct resolve_result res;
	char                 *max = fill(RESOLVE_MAX_VALUE, 'x'), *over = fill(RESOLVE_MAX_VALUE + 1, 'x');
	struct resolve_var    v[3] = {{"A", max}, {"B", over}, {"C", "${A}"}};
	int                   rc;

	rc = resolve_all(v, 3, lookup, NULL, &res);
	CHECK(rc == 1 && res.values[0] && strlen(res.values[0]) == RESOLVE_MAX_VALUE,
	    "a value of exactly RESOLVE_MAX_VALUE bytes resolves");
	CHECK(res.values[1] == NULL && res.nerr == 1 && strcmp(res.errs[0].key, "B") == 0 &&
	    strstr(res.errs[0].message, "longer than 1048576 bytes") != NULL,
	    "one byte more is an error");
	CHECK(res.values[2] && strlen(res.values[2]) == RESOLVE_MAX_VALUE, "a reference to the largest value");
	resolve_result_free(&res, 3);

	/* A resource value of 700 KiB fits once, not twice. */
	{
		struct resolve_var w[2] = {{"ONE", "${db.big.url}"}, {"TWO", "${db.big.url}/${db.big.url}"}};

		lookups = 0;
		rc = resolve_all(w, 2, lookup, NULL, &res);
		CHECK(rc == 1 && res.values[0] && strlen(res.values[0]) == BIG_LEN && res.values[1] == NULL,
		    "a huge resource value fits once, not twice");
		CHECK(res.nerr == 1 && strcmp(res.errs[0].message, "${db.big.url}: the resolved value would "
		    "be longer than 1048576 bytes (RESOLVE_MAX_VALUE)") == 0,
		    res.nerr ? res.errs[0].message : "no error");
		CHECK(lookups == 1, "the lookup runs once per distinct reference");
		resolve_result_free(&res, 2);
	}
	free(max);
	free(over);
}

/* K0=${K1}${K1}, K1=${K2}${K2}, ..., K39=xxxxxxxx: 8 * 2^40 bytes if expanded. */
static void
test_blowup(void)
{
	enum { N = 40 };
	struct resolve_var    v[N];
	char                  keys[N][16], vals[N][40];
	struct resolve_result res;
	clock_t               t0 = clock();
	int                   rc;
	size_t                failed = 0;

	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "K%02d", i);
		if (i + 1 < N)
			snprintf(vals[i], sizeof(vals[i]), "${K%02d}${K%02d}", i + 1, i + 1);
		else
			snprintf(vals[i], sizeof(vals[i]), "xxxxxxxx");
		v[i] = (struct resolve_var){keys[i], vals[i]};
	}
	rc = resolve_all(v, N, lookup, NULL, &res);
	for (int i = 0; i < N; i++)
		failed += res.values[i] == NULL;
	/* K39 is 8 bytes, K(39-k) is 8 * 2^k: K22 is 1 MiB exactly, K21 would be 2 MiB. */
	CHECK(rc == 1 && failed == 22 && res.values[22] && strlen(res.values[22]) == RESOLVE_MAX_VALUE,
	    "blow-up: the keys past RESOLVE_MAX_VALUE fail, the others resolve");
	CHECK(res.nerr == 1 && strcmp(res.errs[0].key, "K21") == 0 &&
	    strcmp(res.errs[0].message, "${K22}: the resolved value would be longer than 1048576 "
	    "bytes (RESOLVE_MAX_VALUE)") == 0, "blow-up: one error, where the limit is crossed");
	CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0, "blow-up fails fast");
	resolve_result_free(&res, N);
}

/* 40 keys that each take a 1 MiB value: the map stops at RESOLVE_MAX_TOTAL. */
static void
test_total(void)
{
	enum { N = 40 };
	struct resolve_var    v[N + 1];
	char                  keys[N][16];
	char                 *big = fill(RESOLVE_MAX_VALUE - 1, 'y');
	struct resolve_result res;
	size_t                total = 0, ok = 0;
	int                   rc;

	v[0] = (struct resolve_var){"BIG", big};
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "U%02d", i);
		v[i + 1] = (struct resolve_var){keys[i], "${BIG}!"};
	}
	rc = resolve_all(v, N + 1, lookup, NULL, &res);
	for (int i = 0; i <= N; i++)
		if (res.values[i]) {
			total += strlen(res.values[i]);
			ok++;
		}
	CHECK(rc == 1 && total <= RESOLVE_MAX_TOTAL && ok == 16, "the whole map stays under RESOLVE_MAX_TOTAL");
	CHECK(res.nerr == N + 1 - 16 && strcmp(res.errs[0].key, "U15") == 0 &&
	    strstr(res.errs[0].message, "RESOLVE_MAX_TOTAL") != NULL, "the keys past the ceiling, in key order");
	resolve_result_free(&res, N + 1);
	free(big);
}

/* A chain of 100,000 keys: no recursion to exhaust the stack; a cycle that
 * long is elided in its messages and still reported at every key. */
static void
test_long_chain(void)
{
	enum { N = 100000 };
	struct resolve_var   *v = calloc(N, sizeof(*v));
	char                (*keys)[16] = calloc(N, 16), (*vals)[24] = calloc(N, 24);
	struct resolve_result res;
	int                   rc;

	for (int i = 0; i < N; i++) {
		snprintf(keys[i], 16, "K%d", i);
		snprintf(vals[i], 24, i + 1 < N ? "${K%d}" : "end", i + 1);
		v[i] = (struct resolve_var){keys[i], vals[i]};
	}
	rc = resolve_all(v, N, lookup, NULL, &res);
	CHECK(rc == 0 && strcmp(res.values[0], "end") == 0, "a chain of 100,000 keys");
	resolve_result_free(&res, N);
	snprintf(vals[N - 1], 24, "${K0}");
	rc = resolve_all(v, N, lookup, NULL, &res);
	CHECK(rc == 1 && res.nerr == N && res.values[0] == NULL, "a cycle of 100,000 keys: every key fails");
	CHECK(res.nerr > 0 && strcmp(res.errs[0].message, "${K1}: cycle K1 -> … -> K0 -> K1") == 0,
	    res.nerr ? res.errs[0].message : "no error");
	resolve_result_free(&res, N);
	free(v);
	free(keys);
	free(vals);
}

/* Cycles of 9 keys show their ends; no lookup means every resource is unknown. */
static void
test_misc(void)
{
	struct resolve_var    v[9];
	char                  keys[9][16], vals[9][24];
	struct resolve_result res;
	struct resolve_var    r[1] = {{"A", "${db.pg.url}"}};

	for (int i = 0; i < 9; i++) {
		snprintf(keys[i], sizeof(keys[i]), "C%d", i);
		snprintf(vals[i], sizeof(vals[i]), "${C%d}", (i + 1) % 9);
		v[i] = (struct resolve_var){keys[i], vals[i]};
	}
	CHECK(resolve_all(v, 9, lookup, NULL, &res) == 1 && res.nerr == 9 &&
	    strcmp(res.errs[0].message, "${C1}: cycle C1 -> C2 -> C3 -> C4 -> … -> C6 -> C7 -> C8 -> C0 -> C1") == 0,
	    res.nerr ? res.errs[0].message : "no error");
	resolve_result_free(&res, 9);
	CHECK(resolve_all(r, 1, NULL, NULL, &res) == 1 && res.nerr == 1 &&
	    strcmp(res.errs[0].message, "${db.pg.url}: unknown resource kind db") == 0,
	    "no lookup: every resource is unknown");
	resolve_result_free(&res, 1);
	CHECK(resolve_all(NULL, 0, lookup, NULL, &res) == 0 && res.nerr == 0, "an empty map");
	resolve_result_free(&res, 0);
}

/* The provider table of the API (env_refs.c): kinds and properties are
 * checked before any lookup (db, bucket and fn read the database:
 * tests/api/test_databases.py, test_buckets.py, test_functions.py). */
static void
test_env_refs(void)
{
	struct resolve_var v[] = {
		{"B", "${bucket.files.region}"},
		{"D", "${queue.jobs.url}"}, {"E", "${db.main.colour}"}, {"F", "${fn.hook.host}"},
	};
	static const char *const want[] = {
		"${bucket.files.region}: unknown property region of a bucket (one of endpoint, access_key, secret_key, bucket_name)",
		"${queue.jobs.url}: unknown resource kind queue",
		"${db.main.colour}: unknown property colour of a database (one of url, host, port, user, password, name)",
		"${fn.hook.host}: unknown property host of a function (one of url)",
	};
	struct env_refs_ctx   c = {NULL, "p", "e"};
	struct resolve_result res;

	CHECK(resolve_all(v, 4, env_refs_lookup, &c, &res) == 1 && res.nerr == 4, "env_refs: four errors");
	for (size_t i = 0; i < res.nerr && i < 4; i++)
		CHECK(strcmp(res.errs[i].message, want[i]) == 0, res.errs[i].message);
	resolve_result_free(&res, 4);
}

int
main(void)
{
	size_t n = sizeof(cases) / sizeof(*cases);

	for (size_t i = 0; i < n; i++)
		CHECK(run_case(&cases[i]), cases[i].name);
	test_sizes();
	test_blowup();
	test_total();
	test_long_chain();
	test_misc();
	test_env_refs();
	return unit_done("resolve");
}
