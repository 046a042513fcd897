/* test_agent_edge.c - the host files of custom hostnames: payloads checked
 * (hostnames, prefixes, app ids), routes ordered longest first, the header
 * read back into the same routes, and the rendering: the challenge
 * location always, proxy or 503 per route, 404 without a "/" route, TLS
 * and 308 only with a certificate, the https port in the redirect. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/conf.h"
#include "agent/edge.h"
#include "unit.h"

#define A "0b6f7c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b"
#define B "1c7a8d2f-3b4e-4f60-9bac-1d2e3f4a5b6c"

static int
parse(const char *json, struct edge_host *h, char *err, size_t errlen)
{
	cJSON *p = cJSON_Parse(json);
	int    rc = edge_host_parse(p, h, err, errlen);

	cJSON_Delete(p);
	return rc;
}

int
main(void)
{
	static const struct { const char *json, *why; } bad[] = {
		{"{\"hostname\":\"Shop.example.com\",\"version\":1,\"routes\":[]}", "upper case"},
		{"{\"hostname\":\"shop example\",\"version\":1,\"routes\":[]}", "space"},
		{"{\"hostname\":\"shop.example.com\",\"routes\":[]}", "no version"},
		{"{\"hostname\":\"shop.example.com\",\"version\":-1,\"routes\":[]}", "negative version"},
		{"{\"hostname\":\"shop.example.com\",\"version\":1}", "no routes"},
		{"{\"hostname\":\"h.example\",\"version\":1,\"routes\":[{\"path_prefix\":\"api\",\"app_id\":\"" A "\"}]}", "relative prefix"},
		{"{\"hostname\":\"h.example\",\"version\":1,\"routes\":[{\"path_prefix\":\"/a/../b\",\"app_id\":\"" A "\"}]}", "dot dot"},
		{"{\"hostname\":\"h.example\",\"version\":1,\"routes\":[{\"path_prefix\":\"/a;b\",\"app_id\":\"" A "\"}]}", "semicolon"},
		{"{\"hostname\":\"h.example\",\"version\":1,\"routes\":[{\"path_prefix\":\"/a{\",\"app_id\":\"" A "\"}]}", "brace"},
		{"{\"hostname\":\"h.example\",\"version\":1,\"routes\":[{\"path_prefix\":\"/a b\",\"app_id\":\"" A "\"}]}", "space in prefix"},
		{"{\"hostname\":\"h.example\",\"version\":1,\"routes\":[{\"path_prefix\":\"/$host\",\"app_id\":\"" A "\"}]}", "variable"},
		{"{\"hostname\":\"h.example\",\"version\":1,\"routes\":[{\"path_prefix\":\"/x\",\"app_id\":\"x;y\"}]}", "app id"},
		{"{\"hostname\":\"h.example\",\"version\":1,\"routes\":[{\"path_prefix\":\"/.well-known/acme-challenge/\",\"app_id\":\"" A "\"}]}", "challenge path"},
		{"{\"hostname\":\"h.example\",\"version\":1,\"routes\":[{\"path_prefix\":\"/x\",\"app_id\":\"" A "\"},"
		    "{\"path_prefix\":\"/x\",\"app_id\":\"" B "\"}]}", "prefix twice"},
	};
	struct edge_host     h, back;
	struct edge_host_env env = {.listen = "127.0.0.1:8080", .tls_listen = "127.0.0.1:8443",
	    .webroot = "/var/lib/a/acme-webroot", .https_port = 8443};
	struct agent_conf    c;
	char                 err[512], out[EDGE_SITE_MAX], path[2048];

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		CHECK(parse(bad[i].json, &h, err, sizeof(err)) == -1, bad[i].why);

	CHECK(parse("{\"hostname\":\"shop.example.com\",\"version\":7,\"routes\":["
	    "{\"path_prefix\":\"/\",\"app_id\":\"" A "\",\"https_redirect\":true},"
	    "{\"path_prefix\":\"/api\",\"app_id\":\"" B "\",\"https_redirect\":false}]}", &h, err,
	    sizeof(err)) == 0, "a payload parsed");
	CHECK(h.n == 2 && h.version == 7 && strcmp(h.r[0].prefix, "/api") == 0 && !h.r[0].redirect &&
	    strcmp(h.r[1].prefix, "/") == 0 && h.r[1].redirect, "longest prefix first");

	/* No certificate: plain only, proxy for an app with a site, 503 for one without. */
	env.app_up[0] = false;
	env.app_up[1] = true;
	CHECK(edge_host_render(&h, &env, out, sizeof(out)) > 0, "rendered");
	CHECK(strstr(out, "# host shop.example.com\n# version 7\n# route /api " B " 0\n# route / " A
	    " 1\n") != NULL, "header carries the payload");
	CHECK(strstr(out, "listen 127.0.0.1:8080;\n    server_name shop.example.com;") != NULL &&
	    strstr(out, "location ^~ /.well-known/acme-challenge/ {\n        root /var/lib/a/acme-webroot;")
	    != NULL, "plain server with the challenge location");
	CHECK(strstr(out, "location ^~ /api {\n        return 503;") != NULL, "an app without a site: 503");
	CHECK(strstr(out, "location ^~ / {\n        set $lnchr_app 0b6f7c1e2a3d4e5f8a9b0c1d2e3f4a5b;\n"
	    "        proxy_pass http://lnchr_0b6f7c1e2a3d4e5f8a9b0c1d2e3f4a5b;")
	    != NULL && strstr(out, "error_page 502 =503 @lnchr_unavailable;") != NULL &&
	    strstr(out, "location @lnchr_unavailable {") != NULL, "an app with a site: its upstream");
	CHECK(strstr(out, "ssl") == NULL && strstr(out, "return 308") == NULL &&
	    strstr(out, "location / {") == NULL, "no TLS, no redirect, \"/\" routed");
	CHECK(edge_host_read(out, &back) == 0 && back.n == 2 && back.version == 7 &&
	    strcmp(back.hostname, "shop.example.com") == 0 && strcmp(back.r[0].app_id, B) == 0 &&
	    !back.r[0].redirect && back.r[1].redirect, "the header reads back");
	CHECK(edge_host_read("server {}\n", &back) == -1, "a file without our header");

	/* With a certificate: a TLS server; 308 on plain HTTP only where asked. */
	env.cert = "/c/shop.example.com/fullchain.pem";
	env.key = "/c/shop.example.com/key.pem";
	CHECK(edge_host_render(&h, &env, out, sizeof(out)) > 0, "rendered with TLS");
	CHECK(strstr(out, "listen 127.0.0.1:8443 ssl;\n    server_name shop.example.com;\n"
	    "    ssl_certificate /c/shop.example.com/fullchain.pem;\n"
	    "    ssl_certificate_key /c/shop.example.com/key.pem;") != NULL, "TLS server");
	CHECK(strstr(out, "location ^~ / {\n        return 308 https://$host:8443$request_uri;") != NULL,
	    "308 with the https port");
	{
		const char *tls = strstr(out, " ssl;");

		CHECK(tls != NULL && strstr(tls, "return 308") == NULL &&
		    strstr(tls, "proxy_pass http://lnchr_0b6f") != NULL, "the TLS server proxies");
	}
	env.https_port = 443;
	CHECK(edge_host_render(&h, &env, out, sizeof(out)) > 0 &&
	    strstr(out, "return 308 https://$host$request_uri;") != NULL, "443 left out of the URL");
	CHECK(edge_host_render(&h, &env, out, 300) == -1, "too small a buffer is an error");

	/* A function's route: the function's own location, methods filter first. */
	{
		static const int port = 32001;
		char             site[4096], m[EDGE_METHODS_MAX];

		CHECK(edge_render_methods(A, "fn", "d", "fn.example.com", "80", &port, 1, "GET|POST",
		    site, sizeof(site)) > 0 && edge_site_fn_methods(site, m, sizeof(m)) == 0 &&
		    strcmp(m, "GET|POST") == 0, "a function's site names its methods");
		CHECK(edge_render_methods(A, "fn", "d", "fn.example.com", "80", &port, 1, "", site,
		    sizeof(site)) > 0 && edge_site_fn_methods(site, m, sizeof(m)) == 0 && m[0] == '\0' &&
		    strstr(site, "$request_method") == NULL, "a function of every method");
		CHECK(edge_render(A, "web", "d", "web.example.com", "80", &port, 1, site,
		    sizeof(site)) > 0 && edge_site_fn_methods(site, m, sizeof(m)) == -1,
		    "an application's site is not a function's");
		env.cert = env.key = NULL;
		env.https_port = 8443;
		env.app_up[0] = env.app_up[1] = true;
		env.fn_methods[1] = "GET|POST";
		CHECK(edge_host_render(&h, &env, out, sizeof(out)) > 0 &&
		    strstr(out, "location ^~ / {\n        if ($request_method !~ ^(GET|POST)$) {\n"
		    "            return 405;\n        }\n        set $lnchr_app 0b6f7c1e") != NULL &&
		    strstr(out, "location ^~ /api {\n        set $lnchr_app 1c7a8d2f") != NULL,
		    "a function's route filters its methods, an app's does not");
		/* With the agent's wake socket: the route wakes a stopped container, and
		 * the named locations come once per server even for two routes. */
		env.fn_methods[0] = "GET|POST";
		memcpy(h.r[0].app_id, h.r[1].app_id, sizeof(h.r[0].app_id));
		env.fn_wake = "/s/fn-wake.sock";
		CHECK(edge_host_render(&h, &env, out, sizeof(out)) > 0 &&
		    strstr(out, "error_page 502 = @wake_0b6f7c1e2a3d4e5f8a9b0c1d2e3f4a5b;\n    }\n") != NULL &&
		    strstr(out, "location @wake_0b6f7c1e2a3d4e5f8a9b0c1d2e3f4a5b {") != NULL &&
		    strstr(strstr(out, "location @wake_0b6f") + 1, "location @wake_") == NULL &&
		    strstr(out, "proxy_pass http://unix:/s/fn-wake.sock;") != NULL &&
		    strstr(out, "location @fn_0b6f7c1e2a3d4e5f8a9b0c1d2e3f4a5b {") != NULL,
		    "a function's routes wake it; its named locations once");
		env.fn_wake = "/s/a b;";
		CHECK(edge_host_render(&h, &env, out, sizeof(out)) > 0 && strstr(out, "@wake_") == NULL,
		    "an unsafe wake socket is left out");
		env.fn_wake = NULL;
		env.fn_methods[0] = env.fn_methods[1] = NULL;
	}

	/* A route the plane marks as a function's: its header line says so and
	 * reads back; served only with its site's methods.  A site without the
	 * "# function methods" line (an older agent's) is 503, never a proxy
	 * of every method. */
	{
		struct edge_host fh, fb;

		CHECK(parse("{\"hostname\":\"fn.example.com\",\"version\":3,\"routes\":["
		    "{\"path_prefix\":\"/\",\"app_id\":\"" A "\",\"function\":true},"
		    "{\"path_prefix\":\"/api\",\"app_id\":\"" B "\",\"function\":false}]}", &fh, err,
		    sizeof(err)) == 0 && fh.r[1].function && !fh.r[0].function, "the function mark parsed");
		env.cert = env.key = NULL;
		env.app_up[0] = env.app_up[1] = true;
		env.fn_methods[0] = env.fn_methods[1] = NULL;
		CHECK(edge_host_render(&fh, &env, out, sizeof(out)) > 0 &&
		    strstr(out, "# route /api " B " 1\n# route / " A " 1 fn\n") != NULL,
		    "the header marks a function's route");
		CHECK(strstr(out, "location ^~ / {\n        return 503;") != NULL &&
		    strstr(out, "proxy_pass http://lnchr_0b6f7c1e") == NULL &&
		    strstr(out, "location ^~ /api {\n        set $lnchr_app 1c7a8d2f") != NULL,
		    "a function's legacy site (no methods line): 503, the app's route proxied");
		CHECK(edge_host_read(out, &fb) == 0 && fb.n == 2 && fb.r[1].function &&
		    !fb.r[0].function, "the function mark read back from the header");
		env.fn_methods[1] = "GET";
		CHECK(edge_host_render(&fb, &env, out, sizeof(out)) > 0 &&
		    strstr(out, "if ($request_method !~ ^(GET)$)") != NULL,
		    "with the methods line: the function's location");
		env.fn_methods[1] = NULL;
	}

	/* No "/" route: the rest of the host is 404, not another server's. */
	CHECK(parse("{\"hostname\":\"*.example.com\",\"version\":1,\"routes\":["
	    "{\"path_prefix\":\"/x\",\"app_id\":\"" A "\"}]}", &h, err, sizeof(err)) == 0 &&
	    h.r[0].redirect, "a wildcard host; redirect by default");
	env.cert = env.key = NULL;
	CHECK(edge_host_render(&h, &env, out, sizeof(out)) > 0 &&
	    strstr(out, "location / {\n        return 404;") != NULL &&
	    strstr(out, "server_name *.example.com;") != NULL, "404 outside the routes");
	agent_conf_defaults(&c);
	(void)agent_conf_set(&c, "edge_sites_dir", "/etc/nginx/s", err, sizeof(err));
	CHECK(edge_host_path(&c, "*.example.com", path, sizeof(path)) == 0 &&
	    strcmp(path, "/etc/nginx/s/host-_wildcard_.example.com.conf") == 0, "wildcard file name");
	CHECK(edge_host_path(&c, "shop.example.com", path, sizeof(path)) == 0 &&
	    strcmp(path, "/etc/nginx/s/host-shop.example.com.conf") == 0, "file name");
	CHECK(edge_webroot(&c, path, sizeof(path)) == 0 &&
	    strcmp(path, "/var/lib/launcher-agent/acme-webroot") == 0, "default webroot");
	CHECK(edge_certs_dir(&c, path, sizeof(path)) == 0 &&
	    strcmp(path, "/var/lib/launcher-agent/certs") == 0, "default certs dir");
	CHECK(c.edge_https_port == 443 && strcmp(c.edge_tls_listen, "443") == 0 &&
	    strcmp(c.acme_client, "lego") == 0, "defaults of the new keys");
	CHECK(agent_conf_set(&c, "edge_tls_listen", "127.0.0.1:8443; x", err, sizeof(err)) == -1 &&
	    agent_conf_set(&c, "edge_https_port", "70000", err, sizeof(err)) == -1,
	    "bad values refused");
	/* A public bucket's site: GET/HEAD only, to the store's /<bucket>/, no client credentials. */
	CHECK(edge_render_bucket(A, "pub-bkt", "media-shop.example.com", "80", "http://10.0.0.5:7480",
	    out, sizeof(out)) > 0 &&
	    strstr(out, "server_name media-shop.example.com;") != NULL &&
	    strstr(out, "if ($request_method !~ ^(GET|HEAD)$) {\n            return 405;") != NULL &&
	    strstr(out, "proxy_pass http://10.0.0.5:7480/pub-bkt/;") != NULL &&
	    strstr(out, "proxy_set_header Authorization \"\";") != NULL, "bucket site");
	CHECK(edge_render_bucket(A, "pub-bkt", "media-shop.example.com", "80",
	    "http://10.0.0.5:7480/x;", out, sizeof(out)) == -1, "bucket endpoint with a path");
	CHECK(edge_render_bucket(A, "pub-bkt", "media shop", "80", "http://s3", out, sizeof(out)) == -1,
	    "bucket hostname with a space");
	CHECK(edge_render_bucket(A, "pub;bkt", "m.example", "80", "http://s3", out, sizeof(out)) == -1,
	    "bucket name with a semicolon");
	CHECK(edge_render_bucket(A, "pub-bkt", "m.example", "80", "ftp://s3", out, sizeof(out)) == -1,
	    "bucket endpoint not http(s)");
	CHECK(edge_render_bucket(A, "pub-bkt", "m.example", "80", "http://s3", out, 64) == -1,
	    "bucket site too long");
	return unit_done("agent-edge");
}
