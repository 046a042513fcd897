/* test_acme.c - the ACME runner's pieces that need no CA: what a
 * certificate made here by openssl says (issuer CN, serial, validity), the
 * hostnames it accepts, files replaced atomically with their mode, and a
 * client that cannot run reported as an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/acme.h"
#include "core/spawn.h"
#include "core/util.h"
#include "unit.h"

int
main(void)
{
	static const struct { const char *h; int ok; } hosts[] = {
		{"shop.example.com", 1}, {"xn--bcher-kva.example", 1}, {"*.example.com", 1},
		{"a", 1}, {"", 0}, {"Shop.example.com", 0}, {"a..b", 0}, {".a", 0}, {"a.", 0},
		{"*.", 0}, {"a.*.b", 0}, {"a b", 0}, {"a;b", 0}, {"a/b", 0},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b", 0},
	};
	char             dir[] = "/tmp/test-acme.XXXXXX", cmd[1024], tail[512], err[512];
	char             crt[256], bad[256], dst[256], *back = NULL;
	struct acme_cert c;
	struct acme_req  q = {0};
	struct stat      st;
	int              status = -1;
	size_t           n = 0;
	time_t           now = time(NULL);

	for (size_t i = 0; i < sizeof(hosts) / sizeof(*hosts); i++)
		CHECK(acme_hostname_ok(hosts[i].h) == hosts[i].ok, hosts[i].h);

	if (mkdtemp(dir) == NULL)
		return 1;
	(void)util_snprintf(crt, sizeof(crt), "%s/c.pem", dir);
	(void)util_snprintf(bad, sizeof(bad), "%s/bad.pem", dir);
	(void)util_snprintf(dst, sizeof(dst), "%s/key.pem", dir);
	(void)util_snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -subj '/O=Test Org/CN=Test Issuer CA' "
	    "-set_serial 0xABCDEF0123 -days 10 -keyout %s/k.pem -out %s", dir, crt);
	CHECK(spawn_command(cmd, 20000, &status, tail, sizeof(tail)) == 0 && status == 0,
	    "openssl made a certificate");
	CHECK(acme_cert_info(crt, &c, err, sizeof(err)) == 0, "certificate read");
	CHECK(strcmp(c.issuer, "Test Issuer CA") == 0, "issuer CN");
	CHECK(strcmp(c.serial, "abcdef0123") == 0, "serial in lower hex");
	CHECK(c.not_after - c.not_before == 10 * 86400, "validity of 10 days");
	CHECK(c.not_before >= now - 60 && c.not_before <= now + 60, "not before is now");

	CHECK(util_write_atomic(bad, "not a certificate\n", 18, 0644) == 0, "file written");
	CHECK(acme_cert_info(bad, &c, err, sizeof(err)) == -1 && strstr(err, "no PEM certificate"),
	    "a file without a certificate is an error");
	CHECK(acme_cert_info("/nonexistent/c.pem", &c, err, sizeof(err)) == -1 &&
	    strstr(err, "/nonexistent/c.pem") != NULL, "a missing file is an error");

	CHECK(util_write_atomic(dst, "secret key", 10, 0600) == 0 && stat(dst, &st) == 0 &&
	    (st.st_mode & 0777) == 0600, "written with mode 0600");
	CHECK(util_write_atomic(dst, "other", 5, 0600) == 0 &&
	    util_read_file(dst, 100, &back, &n) == 0 && back != NULL && n == 5 &&
	    strcmp(back, "other") == 0, "replaced whole");
	free(back);
	back = NULL;
	CHECK(util_read_file(dst, 2, &back, &n) == -1 && back == NULL, "larger than max refused");
	CHECK(util_read_file("/nonexistent/x", 2, &back, &n) == 0 && back == NULL,
	    "absent is no error");

	q.client = "/nonexistent/lego";
	q.directory_url = "https://127.0.0.1:1/dir";
	q.state_dir = dir;
	q.webroot = dir;
	q.hostname = "shop.example.com";
	q.timeout_ms = 5000;
	CHECK(acme_obtain(&q, crt, dst, &c, err, sizeof(err)) == -1 &&
	    strstr(err, "cannot run /nonexistent/lego") != NULL, "a client that cannot run");
	q.hostname = "bad host";
	CHECK(acme_obtain(&q, crt, dst, &c, err, sizeof(err)) == -1, "a bad hostname is refused");
	q.hostname = "shop.example.com";
	q.directory_url = "http://127.0.0.1:1/dir";
	CHECK(acme_obtain(&q, crt, dst, &c, err, sizeof(err)) == -1, "plain http refused");

	(void)util_snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)spawn_command(cmd, 10000, &status, tail, sizeof(tail));
	return unit_done("acme");
}
