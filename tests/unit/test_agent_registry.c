/* test_agent_registry.c - the pure parts of registries on the agent
 * (fcgi/agent/registry.h): WWW-Authenticate challenges as registries send
 * them (distribution's Basic and Bearer, Docker Hub's, GitHub's), the
 * X-Registry-Auth header the engine decodes, the registry host of an image
 * reference (the engine's rule), and the push reference of a build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "agent/registry.h"
#include "unit.h"

static void
challenges(void)
{
	struct reg_challenge c;

	CHECK(reg_challenge_parse("Basic realm=\"launcher-test\"", &c) == 0 &&
	    strcmp(c.scheme, "basic") == 0 && strcmp(c.realm, "launcher-test") == 0, "basic");
	/* Docker Hub's GET /v2/ */
	CHECK(reg_challenge_parse("Bearer realm=\"https://auth.docker.io/token\","
	    "service=\"registry.docker.io\"", &c) == 0 && strcmp(c.scheme, "bearer") == 0 &&
	    strcmp(c.realm, "https://auth.docker.io/token") == 0 &&
	    strcmp(c.service, "registry.docker.io") == 0 && c.scope[0] == '\0', "docker hub");
	/* A repository's, with a scope holding ':' and ','. */
	CHECK(reg_challenge_parse("Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\","
	    "scope=\"repository:org/app:pull,push\"", &c) == 0 &&
	    strcmp(c.scope, "repository:org/app:pull,push") == 0, "scope with comma");
	CHECK(reg_challenge_parse("bearer Realm=http://127.0.0.1:1/t , Service=x", &c) == 0 &&
	    strcmp(c.realm, "http://127.0.0.1:1/t") == 0 && strcmp(c.service, "x") == 0,
	    "unquoted, case-insensitive names");
	CHECK(reg_challenge_parse("Bearer service=\"x\"", &c) != 0, "bearer without realm");
	CHECK(reg_challenge_parse("Negotiate abc", &c) != 0, "another scheme");
	CHECK(reg_challenge_parse("", &c) != 0, "empty");
	CHECK(reg_challenge_parse("Bearer realm=\"unterminated", &c) != 0, "unterminated quote");
}

static void
auth_header(void)
{
	struct reg_creds c = {"custom", "http://127.0.0.1:5000", "deployer", "s3cr+t/?>"};
	char             out[1024];
	unsigned char    dec[1024];
	int              n;

	CHECK(reg_auth_header(&c, out, sizeof(out)) == 0, "fits");
	CHECK(strchr(out, '+') == NULL && strchr(out, '/') == NULL, "base64url alphabet");
	for (char *p = out; *p; p++)
		*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	n = EVP_DecodeBlock(dec, (unsigned char *)out, (int)strlen(out));
	CHECK(n > 0, "decodes");
	dec[n > 0 ? n : 0] = '\0';
	CHECK(strstr((char *)dec, "{\"username\":\"deployer\",\"password\":\"s3cr+t/?>\","
	    "\"serveraddress\":\"127.0.0.1:5000\"}") == (char *)dec, (char *)dec);
	c.url = "https://registry-1.docker.io";
	CHECK(reg_auth_header(&c, out, sizeof(out)) == 0, "hub");
	for (char *p = out; *p; p++)
		*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	n = EVP_DecodeBlock(dec, (unsigned char *)out, (int)strlen(out));
	dec[n > 0 ? n : 0] = '\0';
	CHECK(strstr((char *)dec, "\"serveraddress\":\"https://index.docker.io/v1/\"") != NULL,
	    "docker hub's server address");
	CHECK(reg_auth_header(&c, out, 16) != 0, "too small");
	/* A build's X-Registry-Config: the same credentials keyed by the server. */
	c.url = "http://127.0.0.1:5000";
	CHECK(reg_config_header(&c, out, sizeof(out)) == 0, "config fits");
	for (char *p = out; *p; p++)
		*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	n = EVP_DecodeBlock(dec, (unsigned char *)out, (int)strlen(out));
	dec[n > 0 ? n : 0] = '\0';
	CHECK(strstr((char *)dec, "{\"127.0.0.1:5000\":{\"username\":\"deployer\",\"password\":"
	    "\"s3cr+t/?>\",\"serveraddress\":\"127.0.0.1:5000\"}}") == (char *)dec, (char *)dec);
}

static void
hosts(void)
{
	static const struct {
		const char *ref, *host;
	} t[] = {
		{"nginx", "docker.io"},
		{"library/nginx:1.25", "docker.io"},
		{"user/app", "docker.io"},
		{"docker.io/user/app:1", "docker.io"},
		{"index.docker.io/user/app", "docker.io"},
		{"ghcr.io/org/app:v1", "ghcr.io"},
		{"GHCR.io/org/app", "ghcr.io"},
		{"127.0.0.1:5000/launcher-test/web:v1", "127.0.0.1:5000"},
		{"localhost/launcher/x:1", "localhost"},
		{"registry.gitlab.com/g/p/app@sha256:00", "registry.gitlab.com"},
	};
	char out[300];

	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++)
		CHECK(reg_image_host(t[i].ref, out, sizeof(out)) == 0 && strcmp(out, t[i].host) == 0,
		    t[i].ref);
	CHECK(reg_serves("https://registry-1.docker.io", "user/app:1"), "hub serves a short name");
	CHECK(reg_serves("https://ghcr.io", "ghcr.io/org/app"), "ghcr");
	CHECK(reg_serves("http://127.0.0.1:5000", "127.0.0.1:5000/a/b:1"), "port");
	CHECK(!reg_serves("http://127.0.0.1:5000", "127.0.0.1:5001/a/b:1"), "another port");
	CHECK(!reg_serves("https://ghcr.io", "evil.example/org/app"), "another host");
	CHECK(!reg_serves("https://ghcr.io", "nginx"), "hub image, ghcr registry");
}

static void
push_refs(void)
{
	struct reg_creds c = {"ghcr", "https://ghcr.io", "OctoCat", "x"};
	char             out[700];

	CHECK(reg_push_ref(&c, "web", "0b6c-1", out, sizeof(out)) == 0 &&
	    strcmp(out, "ghcr.io/octocat/web:0b6c-1") == 0, out);
	c.url = "https://ghcr.io/My-Org/";
	CHECK(reg_push_ref(&c, "web", "d1", out, sizeof(out)) == 0 &&
	    strcmp(out, "ghcr.io/my-org/web:d1") == 0, out);
	c.url = "https://registry-1.docker.io";
	CHECK(reg_push_ref(&c, "api", "d1", out, sizeof(out)) == 0 &&
	    strcmp(out, "docker.io/octocat/api:d1") == 0, out);
	c.url = "http://127.0.0.1:5000";
	c.username = NULL;
	CHECK(reg_push_ref(&c, "api", "d1", out, sizeof(out)) == 0 &&
	    strcmp(out, "127.0.0.1:5000/launcher/api:d1") == 0, out);
	CHECK(reg_serves(c.url, out), "the push reference is on its registry");
	CHECK(reg_push_ref(&c, "", "d1", out, sizeof(out)) != 0, "no name");
}

static void
creds(void)
{
	cJSON           *p = cJSON_Parse("{\"registry\": {\"type\": \"custom\", \"url\": "
	    "\"http://r:1\", \"username\": \"u\", \"password\": \"p\"}, \"x\": {\"url\": \"ftp://a\"}}");
	struct reg_creds c;

	CHECK(reg_creds_of(cJSON_GetObjectItem(p, "registry"), &c) && strcmp(c.url, "http://r:1") == 0 &&
	    strcmp(c.username, "u") == 0 && strcmp(c.password, "p") == 0, "read");
	CHECK(!reg_creds_of(cJSON_GetObjectItem(p, "x"), &c), "ftp url refused");
	CHECK(!reg_creds_of(NULL, &c), "absent");
	cJSON_Delete(p);
}

int
main(void)
{
	challenges();
	auth_header();
	hosts();
	push_refs();
	creds();
	return unit_done("agent registry");
}
