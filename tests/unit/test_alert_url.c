/* test_alert_url.c - where an alert may be sent (core/alert_url.h): http
 * and https only, no credentials, no loopback/private/link-local target in
 * any spelling unless alert_allowed_hosts lists it; the address check
 * launcher-notify applies when connecting. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/alert_url.h"
#include "unit.h"

static int
v4_internal(const char *a)
{
	struct sockaddr_in s = {.sin_family = AF_INET};

	inet_pton(AF_INET, a, &s.sin_addr);
	return alert_addr_internal((struct sockaddr *)&s);
}

static int
v6_internal(const char *a)
{
	struct sockaddr_in6 s = {.sin6_family = AF_INET6};

	inet_pton(AF_INET6, a, &s.sin6_addr);
	return alert_addr_internal((struct sockaddr *)&s);
}

int
main(void)
{
	static const struct { const char *url, *allowed; int ok; } cases[] = {
		{"https://hooks.slack.com/services/T0/B0/x", "", 1},
		{"http://example.com:8080/a?b=c", "", 1},
		{"HTTPS://Discord.com/api/webhooks/1/x", "", 1},
		{"https://93.184.216.34/", "", 1},
		{"ftp://example.com/", "", 0}, {"file:///etc/passwd", "", 0}, {"example.com", "", 0},
		{"gopher://example.com", "", 0}, {"https://", "", 0}, {"https:///x", "", 0},
		{"https://user:pw@example.com/", "", 0}, {"https://example.com:0/", "", 0},
		{"https://example.com:99999/", "", 0}, {"https://exa mple.com/", "", 0},
		{"http://localhost/", "", 0}, {"http://LOCALHOST:8080/", "", 0},
		{"http://a.b.localhost/", "", 0}, {"http://127.0.0.1/", "", 0},
		{"http://127.1/", "", 0}, {"http://2130706433/", "", 0}, {"http://0x7f000001/", "", 0},
		{"http://0177.0.0.1/", "", 0}, {"http://0.0.0.0/", "", 0}, {"http://10.0.0.5/", "", 0},
		{"http://172.16.3.4/", "", 0}, {"http://172.31.255.255/", "", 0},
		{"http://192.168.0.1/", "", 0}, {"http://169.254.169.254/", "", 0},
		{"http://100.64.0.1/", "", 0}, {"http://[::1]/", "", 0}, {"http://[::]/", "", 0},
		{"http://[fe80::1]/", "", 0}, {"http://[fd00::1]/", "", 0},
		{"http://[::ffff:127.0.0.1]/", "", 0}, {"http://172.32.0.1/", "", 1},
		{"http://[2606:4700::1]/", "", 1},
		/* Allowed: a host alone allows every port, host:port one port. */
		{"http://127.0.0.1:9000/h", "127.0.0.1", 1},
		{"http://127.0.0.1:9000/h", "10.0.0.1, 127.0.0.1:9000", 1},
		{"http://127.0.0.1:9001/h", "127.0.0.1:9000", 0},
		{"http://2130706433:9000/h", "127.0.0.1", 1},	/* the same address */
		{"http://127.0.0.2/", "127.0.0.1", 0},
		{"http://hooks.lan:8080/", "hooks.lan", 1},
		{"http://localhost/", "hooks.lan,localhost:80", 1},
		{"http://[::1]:8080/", "[::1]:8080", 1}, {"http://[::1]:8081/", "[::1]:8080", 0},
		{"http://10.0.0.1/", "10.0.0.1:abc", 0},
	};
	char host[256];
	int  port;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		CHECK((alert_url_check(cases[i].url, cases[i].allowed) == NULL) == cases[i].ok,
		    cases[i].url);
	CHECK(alert_url_host("https://[::1]:8443/x", host, sizeof(host), &port) == 0 &&
	    strcmp(host, "::1") == 0 && port == 8443, "v6 host and port");
	CHECK(alert_url_host("http://Example.com/x", host, sizeof(host), &port) == 0 &&
	    strcmp(host, "Example.com") == 0 && port == 80, "default port");
	CHECK(v4_internal("127.0.0.1") && v4_internal("10.9.8.7") && v4_internal("169.254.1.1") &&
	    v4_internal("192.168.1.1") && v4_internal("0.0.0.0") && !v4_internal("8.8.8.8"),
	    "v4 addresses");
	CHECK(v6_internal("::1") && v6_internal("fe80::1") && v6_internal("fc00::1") &&
	    v6_internal("::ffff:10.0.0.1") && !v6_internal("2001:4860::8888"), "v6 addresses");
	CHECK(v4_internal("198.18.0.1") && v4_internal("198.19.255.254") &&
	    v4_internal("192.0.0.170") && v4_internal("240.0.0.1") &&
	    v4_internal("255.255.255.255") && !v4_internal("198.20.0.1") &&
	    !v4_internal("192.0.1.1") && v4_internal("239.255.255.255"),
	    "reserved v4 ranges");
	CHECK(v6_internal("64:ff9b::7f00:1") && v6_internal("64:ff9b::a9fe:a9fe") &&
	    !v6_internal("64:ff9b::808:808") && v6_internal("2002:7f00:1::1") &&
	    v6_internal("2002:c0a8:101::") && !v6_internal("2002:808:808::1") &&
	    v6_internal("::ffff:198.18.0.1") && !v6_internal("::ffff:8.8.8.8") &&
	    v6_internal("64:ff9b:1::1"), "v6 prefixes that embed a v4 address");
	CHECK(alert_url_check("http://198.18.0.1/", "") != NULL &&
	    alert_url_check("http://[64:ff9b::127.0.0.1]/", "") != NULL &&
	    alert_url_check("http://[2002:7f00:1::]/", "") != NULL, "embedded in a URL");
	return unit_done("alert_url");
}
