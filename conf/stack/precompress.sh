#!/usr/bin/env bash
# Precompress the text files nginx serves from a directory tree, for
# gzip_static and brotli_static (conf/nginx/locations.conf.in): next to each
# .js .mjs .css .html .json .svg file, FILE.gz (gzip -9) and, where the
# `brotli` tool exists, FILE.br (quality 11). nginx sends the smallest the
# client accepts, with no compression work per request.
#
#     precompress.sh DIR                  compress what has no fresh .gz/.br
#     precompress.sh DIR --force          redo every file
#     precompress.sh DIR --reuse OLD      first take OLD's FILE.gz/.br where
#                                         OLD/FILE is byte-identical to DIR/FILE
#
# "Fresh": the compressed file exists and is not older than its source.
# --reuse is for conf/stack/static-tree.sh (the stack's copy_static), which rebuilds the state
# dir's static/ on each start: brotli -q 11 of the 1.5 MB openapi.json alone
# takes ~2 s, paid again only when the file changed. gzip -n: no name or
# time in the header, so the output is reproducible.
# Exit status: 0, or 1 with a message when a tool fails.
set -euo pipefail

dir=${1:?usage: precompress.sh DIR [--force | --reuse OLD]}
force="" old=""
case ${2:-} in
    --force) force=1 ;;
    --reuse) old=${3:?--reuse needs a directory} ;;
    "") ;;
    *) echo "precompress: unknown option $2" >&2; exit 2 ;;
esac
have_brotli=0
command -v brotli > /dev/null 2>&1 && have_brotli=1

fresh() {   # fresh FILE COMPRESSED: COMPRESSED exists and is not older
    [ -z "$force" ] && [ -e "$2" ] && ! [ "$1" -nt "$2" ]
}

while IFS= read -r -d '' f; do
    for ext in gz br; do
        if [ -n "$old" ] && ! fresh "$f" "$f.$ext" && [ -e "$old/${f#"$dir"/}.$ext" ] &&
            cmp -s "$old/${f#"$dir"/}" "$f"; then
            cp "$old/${f#"$dir"/}.$ext" "$f.$ext" && touch -r "$f" "$f.$ext"
        fi
    done
    if ! fresh "$f" "$f.gz"; then
        gzip -9 -n -k -f "$f" || { echo "precompress: gzip $f failed" >&2; exit 1; }
    fi
    if [ "$have_brotli" = 1 ] && ! fresh "$f" "$f.br"; then
        brotli -q 11 -k -f "$f" || { echo "precompress: brotli $f failed" >&2; exit 1; }
    fi
done < <(find "$dir" -type f \( -name '*.js' -o -name '*.mjs' -o -name '*.css' -o -name '*.html' \
            -o -name '*.json' -o -name '*.svg' \) -print0)
