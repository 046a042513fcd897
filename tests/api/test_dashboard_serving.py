"""The dashboard as nginx serves it (README "The dashboard";
conf/nginx/static.conf.in): index.html at "/", the vendored libraries under
/vendor/ from `make`, precompressed answers (gzip_static, brotli_static
when Debian's module is installed), the Content-Security-Policy and the
other headers, ETag revalidation; the API's answers keep their own."""
import gzip
import os

from lib import STATE, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
BROTLI = os.path.exists("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")
VENDOR = ("/vendor/uplot/uPlot.esm.js", "/vendor/uplot/uPlot.min.css", "/vendor/xterm/xterm.mjs",
          "/vendor/xterm/xterm.css", "/vendor/xterm/addon-fit.mjs")


def _static(path):
    with open(os.path.join(STATE, "static", path.lstrip("/")), "rb") as f:
        return f.read()


def test_pages_and_libraries_carry_the_policy_and_come_precompressed():
    for path, file, ctype in [("/", "index.html", "text/html")] + [
            (p, p, "text/css" if p.endswith(".css") else "application/javascript") for p in VENDOR]:
        plain = request("GET", path, headers={"Accept-Encoding": "identity"})
        assert plain.status == 200 and plain.raw == _static(file), path
        assert plain.headers["content-type"].startswith(ctype), (path, plain.headers)
        assert "content-encoding" not in plain.headers, path
        for h, want in (("content-security-policy", CSP), ("x-content-type-options", "nosniff"),
                        ("referrer-policy", "no-referrer"), ("cache-control", "no-cache")):
            assert plain.headers.get(h) == want, (path, h, plain.headers)
        z = request("GET", path, headers={"Accept-Encoding": "gzip"})
        assert z.headers.get("content-encoding") == "gzip" and gzip.decompress(z.raw) == plain.raw, path
        assert z.headers.get("vary") == "Accept-Encoding" and z.headers["content-security-policy"] == CSP
        # The bytes sent are the file precompressed at build/copy time.
        assert z.raw == _static(file + ".gz"), path
        if BROTLI:
            br = request("GET", path, headers={"Accept-Encoding": "br, gzip"})
            assert br.headers.get("content-encoding") == "br" and br.raw == _static(file + ".br"), path
        etag = plain.headers["etag"]
        again = request("GET", path, headers={"Accept-Encoding": "identity", "If-None-Match": etag})
        assert again.status == 304 and again.raw == b"", path


def test_the_manifest_is_not_served_and_the_api_keeps_its_headers():
    assert request("GET", "/vendor/package.json").status == 404
    assert request("GET", "/vendor/package-lock.json").status == 404
    r = request("GET", "/default/api/v1/auth/me")
    assert r.status == 401 and r.json["success"] is False
    assert "content-security-policy" not in r.headers and r.headers.get("cache-control") == "no-store", r.headers


def test_a_missing_dashboard_file_is_the_json_404_never_sniffed_nor_framed():
    missing = request("GET", "/app/no-such-module.js")
    assert missing.status == 404 and missing.json["error"]["code"] == "NOT_FOUND", missing
    assert missing.headers.get("x-content-type-options") == "nosniff", missing.headers
    assert missing.headers.get("content-security-policy") == "default-src 'none'; frame-ancestors 'none'"
