#!/usr/bin/env python3
"""tests/lint_static.py DIR - the dashboard's rules for what a browser runs
(README "The dashboard"), checked in DIR (static/ by default):

  DIR/app/**/*.js   never innerHTML, outerHTML, insertAdjacentHTML,
                    createContextualFragment, document.write(ln), eval or
                    new Function / Function(...): every string reaches the
                    page as text (core/dom.js h()), and the CSP's
                    script-src 'self' would refuse eval anyway;
  DIR/**/*.html     no inline <script> (one without src, or with a body),
                    no <style> element, no style="..." or on...="..."
                    attribute, no javascript: URL: what the CSP refuses
                    must not be written in the first place.

Lines that are comments (// ..., /* ..., * ...) are not code and are
skipped. Prints one line per finding (file:line: what); exit status 1 if
any. tests/lint.sh runs it on static/ and on tests/fixtures/lint-static/,
where it must find every rule broken once (so the check itself is tested).
"""
import html.parser
import os
import re
import sys

JS_BANNED = [
    (re.compile(r"\.\s*innerHTML\b"), "innerHTML"),
    (re.compile(r"\.\s*outerHTML\b"), "outerHTML"),
    (re.compile(r"\binsertAdjacentHTML\b"), "insertAdjacentHTML"),
    (re.compile(r"\bcreateContextualFragment\b"), "createContextualFragment"),
    (re.compile(r"\bdocument\s*\.\s*write(ln)?\b"), "document.write"),
    (re.compile(r"(?<![\w$])eval\s*\("), "eval"),
    (re.compile(r"(?<![\w$])(new\s+)?Function\s*\("), "new Function"),
]
COMMENT = re.compile(r"^\s*(//|/\*|\*)")


def lint_js(path, findings):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if COMMENT.match(line):
                continue
            for rx, what in JS_BANNED:
                if rx.search(line):
                    findings.append("%s:%d: %s" % (path, n, what))


class HtmlLint(html.parser.HTMLParser):
    def __init__(self, path, findings):
        super().__init__(convert_charrefs=True)
        self.path, self.findings, self.script = path, findings, None

    def report(self, what):
        self.findings.append("%s:%d: %s" % (self.path, self.getpos()[0], what))

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "style":
                self.report("style attribute on <%s>" % tag)
            elif name.startswith("on"):
                self.report("%s attribute on <%s>" % (name, tag))
            elif value and re.match(r"\s*javascript:", value, re.I):
                self.report("javascript: URL in %s of <%s>" % (name, tag))
        if tag == "style":
            self.report("<style> element")
        elif tag == "script":
            if not any(name == "src" for name, _ in attrs):
                self.report("inline <script> (no src)")
            self.script = True

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "script":
            self.script = None

    def handle_data(self, data):
        if self.script and data.strip():
            self.report("inline script text")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "static"
    findings = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in ("vendor", "node_modules", "icons"))
        for f in sorted(files):
            path = os.path.join(d, f)
            rel = os.path.relpath(path, root)
            if f.endswith(".js") and rel.split(os.sep)[0] == "app":
                lint_js(path, findings)
            elif f.endswith(".html"):
                p = HtmlLint(path, findings)
                with open(path, encoding="utf-8") as fh:
                    p.feed(fh.read())
                p.close()
    for line in findings:
        print(line)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
