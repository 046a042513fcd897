/* test_util.c - numbers, UUIDs, slugs, e-mails, RFC 3339, errors, arena, redaction. */
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"
#include "core/redact.h"
#include "core/util.h"
#include "unit.h"

int
main(void)
{
	static const struct { const char *s; int ok; int64_t v; } nums[] = {
		{"0", 1, 0}, {"200", 1, 200}, {"201", 0, 0}, {"-1", 0, 0}, {"", 0, 0},
		{" 5", 0, 0}, {"5 ", 0, 0}, {"5x", 0, 0}, {"99999999999999999999", 0, 0},
		{"0x10", 0, 0}, {"1e3", 0, 0},
	};
	static const struct { const char *s; int ok; } uuids[] = {
		{"550e8400-e29b-41d4-a716-446655440000", 1},
		{"550E8400-E29B-41D4-A716-446655440000", 1},
		{"550e8400e29b41d4a716446655440000", 0},
		{"550e8400-e29b-41d4-a716-44665544000", 0},
		{"550e8400-e29b-41d4-a716-4466554400000", 0},
		{"550e8400-e29b-41d4-a716-44665544000g", 0},
		{"' OR 1=1 --", 0}, {"", 0},
	};
	static const struct { const char *s; int ok; } slugs[] = {
		{"default", 1}, {"a", 1}, {"my-team-2", 1}, {"-a", 0}, {"a-", 0}, {"A", 0},
		{"a_b", 0}, {"", 0}, {"550e8400-e29b-41d4-a716-446655440000", 0},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
	};
	static const struct { const char *s; int ok; } emails[] = {
		{"a@b.co", 1}, {"first.last+tag@example.com", 1}, {"a@b", 0}, {"@b.co", 0},
		{"a@@b.co", 0}, {"a b@c.de", 0}, {"a@b.co\r\nBcc: x@y.z", 0}, {"a@b.", 0},
	};
	static const struct { const char *s; int ok; } times[] = {
		{"2024-01-15T10:30:00Z", 1}, {"2024-01-15T10:30:00.123Z", 1},
		{"2024-01-15T10:30:00+02:00", 1}, {"2024-01-15 10:30:00Z", 0},
		{"2024-01-15", 0}, {"2024-01-15T10:30:00", 0}, {"tomorrow", 0},
		{"2026-02-30T00:00:00Z", 0}, {"2026-13-01T00:00:00Z", 0}, {"2026-04-31T00:00:00Z", 0},
		{"2026-01-01T24:00:00Z", 0}, {"2026-01-01T00:00:00+16:00", 0},
		{"2024-02-29T23:59:59Z", 1}, {"2023-02-29T00:00:00Z", 0}, {"1900-02-29T00:00:00Z", 0},
		{"2000-02-29T00:00:00Z", 1},
	};
	struct arena a;
	int64_t      v;
	char         buf[8];

	for (size_t i = 0; i < sizeof(nums) / sizeof(*nums); i++) {
		int rc = util_parse_i64(nums[i].s, 0, 200, &v);

		CHECK((rc == 0) == nums[i].ok && (!nums[i].ok || v == nums[i].v), nums[i].s);
	}
	for (size_t i = 0; i < sizeof(uuids) / sizeof(*uuids); i++)
		CHECK(util_is_uuid(uuids[i].s) == uuids[i].ok, uuids[i].s);
	for (size_t i = 0; i < sizeof(slugs) / sizeof(*slugs); i++)
		CHECK(util_is_slug(slugs[i].s) == slugs[i].ok, slugs[i].s);
	for (size_t i = 0; i < sizeof(emails) / sizeof(*emails); i++)
		CHECK(util_is_email(emails[i].s) == emails[i].ok, emails[i].s);
	for (size_t i = 0; i < sizeof(times) / sizeof(*times); i++)
		CHECK(json_is_time(times[i].s) == times[i].ok, times[i].s);
	{
		double t;

		CHECK(json_time_epoch("2023-11-14T23:13:20.25+01:00", &t) && t == 1700000000.25,
		    "an offset time as epoch seconds");
	}
	{
		char       pe[32];
		const char raw[] = {'a', ' ', '/', '~', '\0', (char)0xc3, 'Z'};

		CHECK(util_pct_encode(pe, sizeof(pe), raw, sizeof(raw), NULL) == 15 &&
		    strcmp(pe, "a%20%2F~%00%C3Z") == 0, "pct_encode: unreserved kept, others %XX");
		CHECK(util_pct_encode(pe, sizeof(pe), "a/b c", 5, "/") == 7 && strcmp(pe, "a/b%20c") == 0,
		    "pct_encode: keep");
		CHECK(util_pct_encode(pe, 15, raw, sizeof(raw), NULL) == -1, "pct_encode: too small");
		CHECK(util_pct_encode(pe, 16, raw, sizeof(raw), NULL) == 15, "pct_encode: just fits");
	}
	CHECK(util_snprintf(buf, sizeof(buf), "%s", "1234567") == 7, "snprintf fits");
	CHECK(util_snprintf(buf, sizeof(buf), "%s", "12345678") == -1, "snprintf truncation is an error");
	CHECK(err_status(ERR_NOT_FOUND) == 404 && strcmp(err_code(ERR_NOT_FOUND), "NOT_FOUND") == 0, "err 404");
	CHECK(err_status(ERR_UNAVAILABLE) == 503, "err 503");
	CHECK(err_status(ERR_PAYLOAD_TOO_LARGE) == 413, "err 413");
	CHECK(err_status((enum err)999) == 500, "err out of range");
	arena_init(&a, 1024);
	{
		char *big = arena_alloc(&a, 100000), *s = arena_printf(&a, "%d-%s", 42, "x");

		memset(big, 1, 100000);
		CHECK(strcmp(s, "42-x") == 0, "arena_printf");
		CHECK(a.total >= 100000, "arena large block");
		arena_reset(&a);
		CHECK(a.total == 0, "arena reset");
	}
	arena_free(&a);

	/* Redaction: the longest value first, a size for a second call, cut output. */
	{
		static const char *const vals[] = {"sk_live_abc", "sk_live_abcdef123", ""};
		const char *in = "a=sk_live_abcdef123 b=sk_live_abc c=https://u:pw@h/x d=ok";
		char        out[256], small[12];
		size_t      need;

		need = redact(vals, 3, false, in, NULL, 0);
		(void)redact(vals, 3, false, in, out, sizeof(out));
		CHECK(strcmp(out, "a=[redacted] b=[redacted] c=https://u:pw@h/x d=ok") == 0, out);
		CHECK(need == strlen(out), "redact returns the length it needs");
		(void)redact(vals, 3, true, in, out, sizeof(out));
		CHECK(strcmp(out, "a=[redacted] b=[redacted] c=https://[redacted]@h/x d=ok") == 0, out);
		need = redact(vals, 3, false, in, small, sizeof(small));
		CHECK(strcmp(small, "a=[redacted") == 0 && need > sizeof(small), small);
		(void)redact(vals, 0, true, "plain ://no-at text", out, sizeof(out));
		CHECK(strcmp(out, "plain ://no-at text") == 0, out);
	}

	/* Redaction: short values, pieces at line boundaries, values over lines. */
	{
		static const char *const vals[] = {
			"hunter2-secret-value", "short", "123456", NULL,
			"-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\r\nEEEEFFFF\nGG\n-----END KEY-----",
		};
		static const struct { const char *in, *want; } cases[] = {
			{"", ""},
			{"pw=hunter2-secret-value ok", "pw=[redacted] ok"},
			{"hunter2-secret-valuehunter2-secret-value", "[redacted][redacted]"},
			{"short and shorter", "short and shorter"},		/* under REDACT_MIN_LEN */
			{"port 123456!", "port [redacted]!"},			/* exactly REDACT_MIN_LEN */
			{"token=hunter2-s", "token=[redacted]"},		/* ends with a 9-byte prefix */
			{"x hunter2-", "x [redacted]"},				/* 8 bytes */
			{"x hunter2", "x hunter2"},				/* 7 bytes: kept */
			{"hunter2-s more", "hunter2-s more"},			/* a prefix not at the end */
			{"ecret-value and more", "[redacted] and more"},	/* starts with a suffix */
			{"et-value rest", "[redacted] rest"},			/* 8 bytes */
			{"t-value rest", "t-value rest"},			/* 7 bytes: kept */
			{"x ecret-value", "x ecret-value"},			/* a suffix not at the start */
			{"a hunter2-se\ncret-value b", "a [redacted]\n[redacted] b"},
			{"a hunter2-secret-va\nlue b", "a [redacted]\nlue b"},	/* 3 bytes left */
			{"a hu\nnter2-secret-value", "a hu\n[redacted]"},
			{"a hunter2-secr\r\nb", "a [redacted]\r\nb"},		/* CR is no part of a line */
			{"AAAABBBBCCCCDDDD", "[redacted]"},			/* a line of a multi-line value */
			{"EEEEFFFF", "[redacted]"},
			{"GG", "GG"},
			{"k=-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\r\nEEEEFFFF\nGG\n-----END KEY-----!",
			    "k=[redacted]!"},
			{"ter2-secret-val", "ter2-secret-val"},		/* an inner part is no piece */
			{"ecret-value", "[redacted]"},				/* the whole line is a suffix */
		};
		char out[256];

		for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
			size_t need = redact(vals, 5, false, cases[i].in, out, sizeof(out));

			CHECK(strcmp(out, cases[i].want) == 0 && need == strlen(out), cases[i].in);
			if (strcmp(out, cases[i].want) != 0)
				printf("  got \"%s\"\n", out);
		}
	}
	/* Two values over lines (a URL and its password): every line of both
	 * is a pattern (their table once had room for one such value only). */
	{
		static const char *const vals[] = {
			"https://bob:first-line\nsecond-line@db.example/x", "first-line\nsecond-line",
		};
		char out[128];

		(void)redact(vals, 2, false, "url=https://bob:first-line\nsecond-line@db.example/x!", out,
		    sizeof(out));
		CHECK(strcmp(out, "url=[redacted]!") == 0, out);
		(void)redact(vals, 2, false, "log: second-line@db.example/x\n", out, sizeof(out));
		CHECK(strcmp(out, "log: [redacted]\n") == 0, out);
		(void)redact(vals, 2, false, "pw first-line\nsecond-line.", out, sizeof(out));
		CHECK(strcmp(out, "pw [redacted].") == 0, out);
	}
	return unit_done("util");
}
