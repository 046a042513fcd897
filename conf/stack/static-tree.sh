#!/usr/bin/env bash
# static-tree.sh REPO OUT [OLD] - the tree nginx serves as static/: the
# repository's static/ (the dashboard, openapi.json) plus `make`'s vendored
# third-party code (build/static/vendor/, precompressed there), without the
# npm manifest of static/vendor/, every text file with its .gz and .br
# (conf/stack/precompress.sh; OLD: a previous tree whose compressed files
# are reused where the source did not change). OUT must not exist; files
# are world-readable (nginx's user). Used by the local stack (copy_static in
# launcher-stack.sh) and by `make install` (conf/install.sh).
# Without build/static/vendor/ the dashboard could not load: an error.
set -euo pipefail

repo=${1:?usage: static-tree.sh REPO OUT [OLD]}
out=${2:?usage: static-tree.sh REPO OUT [OLD]}
old=${3:-}
vendor=$repo/build/static/vendor

die() { printf 'static-tree.sh: %s\n' "$*" >&2; exit 1; }

[ -e "$vendor/.stamp" ] ||
    die "$vendor is missing: run make (it installs the dashboard's vendored code with npm)"
[ ! -e "$out" ] || die "$out exists"
if [ -d "$repo/static" ]; then
    cp -r "$repo/static" "$out"
else
    mkdir "$out"
fi
rm -f "$out/vendor/package.json" "$out/vendor/package-lock.json"
mkdir -p "$out/vendor"
cp -R --preserve=timestamps "$vendor/." "$out/vendor/"
rm -f "$out/vendor/.stamp"
if [ -n "$old" ] && [ -d "$old" ]; then
    bash "$repo/conf/stack/precompress.sh" "$out" --reuse "$old" || die "cannot precompress $out"
else
    bash "$repo/conf/stack/precompress.sh" "$out" || die "cannot precompress $out"
fi
chmod -R u+rwX,go+rX "$out"
