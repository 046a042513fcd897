/* test_ingest.c - error-tracking ingest: the capped Content-Encoding
 * decoder (zbody), the envelope parser and DSN key parsing (envelope),
 * the shared-memory quota (eventquota). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "core/arena.h"
#include "core/envelope.h"
#include "core/eventquota.h"
#include "core/zbody.h"
#include "unit.h"

/* total bytes of fill deflated with windowBits w (31 gzip, 15 zlib, -15 raw). */
static unsigned char *
deflated(size_t total, char fill, int w, size_t *outlen)
{
	z_stream       z;
	size_t         cap = total / 100 + 4096;
	unsigned char *out = malloc(cap), in[65536];

	memset(&z, 0, sizeof(z));
	memset(in, fill, sizeof(in));
	deflateInit2(&z, 9, Z_DEFLATED, w, 9, Z_DEFAULT_STRATEGY);
	z.next_out = out;
	z.avail_out = (uInt)cap;
	while (total > 0) {
		size_t n = total < sizeof(in) ? total : sizeof(in);

		z.next_in = in;
		z.avail_in = (uInt)n;
		total -= n;
		deflate(&z, total == 0 ? Z_FINISH : Z_NO_FLUSH);
	}
	*outlen = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

static void
test_zbody(struct arena *a)
{
	static const struct { const char *enc; int w; } encs[] = {
		{"gzip", 31}, {"x-gzip", 31}, {"GZIP", 31}, {"deflate", 15}, {"deflate", -15},
	};
	unsigned char *z;
	char          *out;
	size_t         zlen, len;

	for (size_t i = 0; i < sizeof(encs) / sizeof(*encs); i++) {
		z = deflated(1000, 'x', encs[i].w, &zlen);
		CHECK(zbody_decode(a, encs[i].enc, (char *)z, zlen, 1000, &out, &len) == ZBODY_OK &&
		    len == 1000 && out[0] == 'x' && out[999] == 'x' && out[1000] == '\0', encs[i].enc);
		/* One byte over the ceiling is too large. */
		CHECK(zbody_decode(a, encs[i].enc, (char *)z, zlen, 999, &out, &len) ==
		    ZBODY_TOO_LARGE, "one byte over");
		/* Cut short, or followed by garbage: bad. */
		CHECK(zbody_decode(a, encs[i].enc, (char *)z, zlen - 3, 1000, &out, &len) ==
		    ZBODY_BAD, "truncated stream");
		free(z);
	}
	z = deflated(100, 'y', 31, &zlen);
	z = realloc(z, zlen + 2);
	memcpy(z + zlen, "zz", 2);
	CHECK(zbody_decode(a, "gzip", (char *)z, zlen + 2, 1000, &out, &len) == ZBODY_BAD,
	    "trailing garbage");
	CHECK(zbody_decode(a, "gzip", "not gzip", 8, 1000, &out, &len) == ZBODY_BAD, "not gzip");
	CHECK(zbody_decode(a, "deflate", "", 0, 1000, &out, &len) == ZBODY_BAD, "empty deflate");
	free(z);
	CHECK(zbody_decode(a, "br", "x", 1, 1000, &out, &len) == ZBODY_UNSUPPORTED, "brotli");
	CHECK(zbody_decode(a, NULL, "abc", 3, 3, &out, &len) == ZBODY_OK && len == 3 &&
	    strcmp(out, "abc") == 0, "identity");
	CHECK(zbody_decode(a, "identity", "abcd", 4, 3, &out, &len) == ZBODY_TOO_LARGE,
	    "identity over");
	/* A bomb: 200 MB of zeros in a few hundred KB; stops at the ceiling,
	 * with at most the ceiling (plus a chunk) allocated. */
	z = deflated((size_t)200 << 20, '\0', 31, &zlen);
	{
		size_t before = a->total;

		CHECK(zlen < 400000, "the bomb is small");
		CHECK(zbody_decode(a, "gzip", (char *)z, zlen, 1 << 20, &out, &len) ==
		    ZBODY_TOO_LARGE, "bomb refused");
		CHECK(a->total - before < (size_t)3 << 20, "bomb memory bounded");
	}
	free(z);
	arena_reset(a);
}

static void
test_envelope(struct arena *a)
{
	struct envelope env;
	const char     *s;
	char            id[33], key[33];

	s = "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n"
	    "{\"type\":\"event\",\"length\":12}\n{\"a\":\"b\\nc\"}\n"
	    "{\"type\":\"attachment\",\"length\":3,\"filename\":\"f.txt\"}\na\nb\n"
	    "{\"type\":\"session\"}\n{\"sid\":1}";
	CHECK(envelope_parse(a, s, strlen(s), &env) == NULL && env.nitems == 3, "three items");
	CHECK(env.nitems == 3 && strcmp(env.items[0].type, "event") == 0 && env.items[0].len == 12 &&
	    memcmp(env.items[0].payload, "{\"a\":\"b\\nc\"}", 12) == 0, "event with length");
	CHECK(env.nitems == 3 && strcmp(env.items[1].type, "attachment") == 0 && env.items[1].len == 3 &&
	    memcmp(env.items[1].payload, "a\nb", 3) == 0, "binary-ish attachment with a newline");
	CHECK(env.nitems == 3 && strcmp(env.items[2].type, "session") == 0 && env.items[2].len == 9,
	    "newline-delimited, no final newline");
	s = "{}\n{\"type\":\"event\"}\n{\"x\":1}\n";
	CHECK(envelope_parse(a, s, strlen(s), &env) == NULL && env.nitems == 1 &&
	    env.items[0].len == 7, "newline-delimited with final newline");
	s = "{}\n";
	CHECK(envelope_parse(a, s, strlen(s), &env) == NULL && env.nitems == 0, "header alone");
	s = "{}\n{\"type\":\"event\",\"length\":0}\n";
	CHECK(envelope_parse(a, s, strlen(s), &env) == NULL && env.nitems == 1 &&
	    env.items[0].len == 0, "empty payload");
	{
		static const char *const bad[] = {
			"", "not json\n", "[1]\n", "{} trailing\n",
			"{}\n{\"length\":2}\nab\n",		/* no type */
			"{}\n{\"type\":1}\nab\n",
			"{}\n{\"type\":\"event\",\"length\":50}\n{}\n",	/* past the end */
			"{}\n{\"type\":\"event\",\"length\":1}\nab\n",	/* longer */
			"{}\n{\"type\":\"event\",\"length\":-1}\n",
			"{}\n{\"type\":\"event\",\"length\":1.5}\nab\n",
			"{}\n{\"type\":\"event\",\"length\":\"2\"}\nab\n",
			"{}\nnot an item header\n",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
			CHECK(envelope_parse(a, bad[i], strlen(bad[i]), &env) != NULL, bad[i]);
	}
	{
		char big[ENVELOPE_MAX_ITEMS * 20 + 64];
		size_t n = 0;

		n += (size_t)snprintf(big + n, sizeof(big) - n, "{}\n");
		for (int i = 0; i <= ENVELOPE_MAX_ITEMS; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n, "{\"type\":\"x\"}\n\n");
		CHECK(envelope_parse(a, big, n, &env) != NULL, "too many items");
	}
	CHECK(envelope_event_id("9EC79C33-EC99-42AB-8353-589FCB2E04DC", id) &&
	    strcmp(id, "9ec79c33ec9942ab8353589fcb2e04dc") == 0, "uuid with dashes");
	CHECK(envelope_event_id("9ec79c33ec9942ab8353589fcb2e04dc", id), "32 hex");
	CHECK(!envelope_event_id("9ec79c33ec9942ab8353589fcb2e04d", id), "31 hex");
	CHECK(!envelope_event_id("9ec79c33ec9942ab8353589fcb2e04dcc", id), "33 hex");
	CHECK(!envelope_event_id("9ec79c33-ec9942ab8353589fcb2e04dc", id), "one dash");
	CHECK(!envelope_event_id("zec79c33ec9942ab8353589fcb2e04dc", id), "not hex");
	CHECK(envelope_auth_key("Sentry sentry_key=0123456789abcdef0123456789abcdef, "
	    "sentry_version=7, sentry_client=sentry.python/1.9.10", key) &&
	    strcmp(key, "0123456789abcdef0123456789abcdef") == 0, "X-Sentry-Auth");
	CHECK(envelope_auth_key("Sentry sentry_version=7,sentry_key=0123456789abcdef0123456789abcdef",
	    key), "key last, no spaces");
	CHECK(!envelope_auth_key("Bearer sentry_key=0123456789abcdef0123456789abcdef", key),
	    "not Sentry");
	CHECK(!envelope_auth_key("Sentry sentry_key=0123456789ABCDEF0123456789abcdef", key),
	    "upper case");
	CHECK(!envelope_auth_key("Sentry sentry_key=0123456789abcdef0123456789abcde", key),
	    "short key");
	CHECK(!envelope_auth_key("Sentry sentry_secret=0123456789abcdef0123456789abcdef", key),
	    "no sentry_key");
	CHECK(envelope_key_valid("0123456789abcdef0123456789abcdef", key), "query key");
	CHECK(!envelope_key_valid(NULL, key) && !envelope_key_valid("", key), "no query key");
	arena_reset(a);
}

/*
 * The id an event is queued under, as the ingest route picks it: the
 * envelope header's, else the event's (envelope_take_event_id on each),
 * else one the route generates when none was taken ("" left).  A malformed
 * id is passed over, never half-copied (a partial id would be refused by
 * the queue's CHECK: 400 for an event that has none of its own).
 */
static void
test_event_ids(struct arena *a)
{
	static const char good[] = "9ec79c33ec9942ab8353589fcb2e04dc";
	struct envelope   env;
	const char       *s;
	cJSON            *ev;
	char              id[33];

	id[0] = '\0';
	CHECK(!envelope_event_id("abc", id) && id[0] == '\0', "a bad id writes nothing");
	memcpy(id, good, sizeof(id));
	CHECK(!envelope_event_id("0123456789abcdef0123456789abcdefz", id) && strcmp(id, good) == 0,
	    "32 hex then a bad one: out as it was");

	/* /store: the body is the event. */
	ev = cJSON_Parse("{\"event_id\":\"abc\",\"message\":\"m\"}");
	id[0] = '\0';
	envelope_take_event_id(ev, id);
	CHECK(id[0] == '\0', "store: a bad event_id is passed over (an id is generated)");
	cJSON_Delete(ev);
	ev = cJSON_Parse("{\"event_id\":\"9EC79C33-EC99-42AB-8353-589FCB2E04DC\"}");
	envelope_take_event_id(ev, id);
	CHECK(strcmp(id, good) == 0, "store: the event's id");
	cJSON_Delete(ev);

	/* An envelope: a bad header id, an event without one. */
	s = "{\"event_id\":\"abc\"}\n{\"type\":\"event\"}\n{\"message\":\"m\"}\n";
	CHECK(envelope_parse(a, s, strlen(s), &env) == NULL && env.nitems == 1, "parsed");
	id[0] = '\0';
	envelope_take_event_id(env.header, id);
	ev = cJSON_ParseWithLength(env.items[0].payload, env.items[0].len);
	envelope_take_event_id(ev, id);
	CHECK(id[0] == '\0', "envelope: a bad header event_id is passed over (an id is generated)");
	cJSON_Delete(ev);
	/* A bad header id, a good one in the event: the event's. */
	s = "{\"event_id\":\"abc\"}\n{\"type\":\"event\"}\n"
	    "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n";
	CHECK(envelope_parse(a, s, strlen(s), &env) == NULL && env.nitems == 1, "parsed");
	id[0] = '\0';
	envelope_take_event_id(env.header, id);
	ev = cJSON_ParseWithLength(env.items[0].payload, env.items[0].len);
	envelope_take_event_id(ev, id);
	CHECK(strcmp(id, good) == 0, "envelope: the event's id after a bad header one");
	cJSON_Delete(ev);
	/* Both good: the header's wins. */
	s = "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"event\"}\n"
	    "{\"event_id\":\"00000000000000000000000000000000\"}\n";
	CHECK(envelope_parse(a, s, strlen(s), &env) == NULL && env.nitems == 1, "parsed");
	id[0] = '\0';
	envelope_take_event_id(env.header, id);
	ev = cJSON_ParseWithLength(env.items[0].payload, env.items[0].len);
	envelope_take_event_id(ev, id);
	CHECK(strcmp(id, good) == 0, "envelope: the header's id wins");
	cJSON_Delete(ev);
	arena_reset(a);
}

static void
test_quota(void)
{
	struct eventquota *q = eventquota_map(NULL);
	const char        *t1 = "11111111-1111-4111-8111-111111111111";
	const char        *t2 = "22222222-2222-4222-8222-222222222222";
	const char        *p = "33333333-3333-4333-8333-333333333333";
	int                slot, retry = 0, ok = 1;
	int64_t            now = 6000000;	/* the start of a minute */

	CHECK(q != NULL, "mapped");
	CHECK(eventquota_find(q, t1, 7) == -1, "unknown DSN");
	slot = eventquota_learn(q, t1, 7, p, 3);
	CHECK(slot >= 0 && eventquota_find(q, t1, 7) == slot, "learnt");
	CHECK(eventquota_find(q, t2, 7) == -1, "another tenant's URL: not found");
	CHECK(eventquota_learn(q, t1, 8, p, 3) == slot, "a second DSN of the project: one slot");
	for (int i = 0; i < 3; i++)
		ok &= eventquota_take(q, slot, now + i, &retry);
	CHECK(ok, "three within the quota");
	CHECK(!eventquota_take(q, slot, now + 15, &retry) && retry == 45, "fourth refused, 45 s");
	eventquota_give_back(q, slot, now + 16);
	CHECK(eventquota_take(q, slot, now + 17, &retry), "given back: one more");
	CHECK(!eventquota_take(q, slot, now + 59, &retry) && retry == 1, "refused, 1 s");
	CHECK(eventquota_take(q, slot, now + 60, &retry), "the next minute counts afresh");
	eventquota_set_limit(q, p, 0);
	CHECK(!eventquota_take(q, slot, now + 61, &retry), "quota 0: off");
	eventquota_set_limit(q, p, 100);
	CHECK(eventquota_take(q, slot, now + 62, &retry), "raised");
	CHECK(eventquota_take(NULL, 0, now, &retry) && eventquota_take(q, -1, now, &retry),
	    "no segment or no slot: uncounted");
}

/* Two mappings of one file (the API pool's and the ingest pool's) are
 * one count; a file mapped again keeps what was counted. */
static void
test_quota_file(void)
{
	char               path[] = "/tmp/launcher-eventquota-XXXXXX";
	int                fd = mkstemp(path), retry = 0, slot;
	struct eventquota *a, *b;
	const char        *t = "11111111-1111-4111-8111-111111111111";
	const char        *p = "33333333-3333-4333-8333-333333333333";
	int64_t            now = 6000000;

	CHECK(fd >= 0, "temporary file");
	if (fd < 0)
		return;
	close(fd);
	a = eventquota_map(path);
	b = eventquota_map(path);
	CHECK(a != NULL && b != NULL && a != b, "mapped twice");
	if (a != NULL && b != NULL) {
		slot = eventquota_learn(a, t, 9, p, 2);
		CHECK(slot >= 0 && eventquota_find(b, t, 9) == slot, "learnt by one, found by the other");
		CHECK(eventquota_take(a, slot, now, &retry) && eventquota_take(b, slot, now, &retry),
		    "two events, one through each");
		CHECK(!eventquota_take(a, slot, now, &retry), "one count: the third refused");
		eventquota_set_limit(b, p, 3);
		CHECK(eventquota_take(a, slot, now, &retry), "a quota set by one applies to the other");
	}
	CHECK(eventquota_map("/nonexistent-dir/eventquota") == NULL, "unwritable path: NULL");
	unlink(path);
}

int
main(void)
{
	struct arena a;

	arena_init(&a, 8192);
	test_zbody(&a);
	test_envelope(&a);
	test_event_ids(&a);
	test_quota();
	test_quota_file();
	arena_free(&a);
	return unit_done("ingest");
}
