/* test_hostname.c - custom domain hostnames: normalisation (IDNA, case,
 * dots), refusals (IP literals, wildcards, lengths, labels), reserved names. */
#include <string.h>

#include "core/config.h"
#include "core/hostname.h"
#include "unit.h"

int
main(void)
{
	static const struct { const char *in; int wild; const char *out; } cases[] = {
		{"shop.example.com", 0, "shop.example.com"},
		{"  Shop.Example.COM.  ", 0, "shop.example.com"},
		{"B\xc3\xbc" "cher.example", 0, "xn--bcher-kva.example"},
		{"xn--bcher-kva.example", 0, "xn--bcher-kva.example"},
		{"stra\xc3\x9f" "e.de", 0, "xn--strae-oqa.de"},
		{"*.example.com", 1, "*.example.com"},
		{"a-b.c-d.example", 0, "a-b.c-d.example"},
		{"*.example.com", 0, NULL}, {"a.*.example.com", 1, NULL}, {"*example.com", 1, NULL},
		{"1.2.3.4", 0, NULL}, {"10.1", 0, NULL}, {"[::1]", 0, NULL}, {"::1", 0, NULL},
		{"2001:db8::1", 0, NULL}, {"[2001:db8::1]", 0, NULL}, {"example.com:8080", 0, NULL},
		{"https://example.com", 0, NULL}, {"example.com/x", 0, NULL},
		{"localhost", 0, NULL}, {"", 0, NULL}, {"  ", 0, NULL}, {".", 0, NULL},
		{"a..b", 0, NULL}, {".a.b", 0, NULL}, {"-a.example", 0, NULL}, {"a-.example", 0, NULL},
		{"a_b.example", 0, NULL}, {"a b.example", 0, NULL}, {"example.com..", 0, NULL},
	};
	char out[HOSTNAME_MAX + 1], big[400];
	struct config c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *why = hostname_normalize(cases[i].in, cases[i].wild, out, sizeof(out));

		if (cases[i].out)
			CHECK(why == NULL && strcmp(out, cases[i].out) == 0, cases[i].in);
		else
			CHECK(why != NULL && out[0] == '\0', cases[i].in);
	}
	/* 300 characters; a 64-character label; 253 exactly is fine. */
	memset(big, 'a', 300);
	memcpy(big + 296, ".com", 5);
	for (int i = 63; i < 296; i += 64)
		big[i] = '.';
	CHECK(hostname_normalize(big, false, out, sizeof(out)) != NULL, "300 characters");
	big[253] = '\0';
	big[249] = '.';
	CHECK(hostname_normalize(big, false, out, sizeof(out)) == NULL && strlen(out) == 253, "253");
	CHECK(hostname_normalize("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", false,
	    out, sizeof(out)) != NULL, "64-character label");

	CHECK(hostname_under("a.b.example.com", "example.com"), "under");
	CHECK(hostname_under("example.com", "example.com"), "equal");
	CHECK(!hostname_under("badexample.com", "example.com"), "suffix is not under");

	config_defaults(&c);
	memcpy(c.public_url, "https://plane.example.org:8443/x", 33);
	memcpy(c.plane_hostname, "API.Example.org.", 17);
	memcpy(c.reserved_domains, "corp.example, internal.test", 28);
	CHECK(hostname_reserved(&c, "plane.example.org") != NULL, "public_url host");
	CHECK(hostname_reserved(&c, "api.example.org") != NULL, "plane_hostname");
	CHECK(hostname_reserved(&c, "x.corp.example") != NULL, "under reserved_domains");
	CHECK(hostname_reserved(&c, "internal.test") != NULL, "second reserved_domains");
	CHECK(hostname_reserved(&c, "a.localhost") != NULL, "under localhost");
	CHECK(hostname_reserved(&c, "*.localhost") != NULL, "wildcard of localhost");
	CHECK(hostname_reserved(&c, "shop.example.org") == NULL, "free name");
	CHECK(hostname_reserved(&c, "x.plane.example.org") == NULL, "under the plane's host is free");
	return unit_done("hostname");
}
