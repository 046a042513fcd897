#!/usr/bin/env bash
# render.sh - the one renderer of Launcher's nginx templates (conf/nginx/*.in),
# used by the local stack (conf/stack/launcher-stack.sh render_nginx) and by
# `make install` (conf/install.sh), and installed beside the templates
# (<prefix>/share/launcher/nginx/) so that an operator can render them again.
#
# Usage: render.sh [NAME=VALUE]... -- TEMPLATE OUTPUT [TEMPLATE OUTPUT]...
#
# In each template:
#   @NAME@          is replaced by VALUE (every line, comments included);
#   #@if NAME       (a line of its own) keeps the lines up to the matching
#   #@else          #@else / #@endif when NAME's value is not empty, "0" or
#   #@endif         "off", the lines after #@else otherwise (no nesting).
# A placeholder left in a directive (not a comment line), a NAME without a
# value in an #@if, or a value with a newline is an error naming the
# template and line; OUTPUT is then left as it was. Each OUTPUT is written
# to OUTPUT.tmp and renamed over it.
set -euo pipefail

die() { printf 'render.sh: %s\n' "$*" >&2; exit 1; }

names=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    case $1 in
        [A-Z]*=*) ;;
        *) die "expected NAME=VALUE or --, got '$1'" ;;
    esac
    name=${1%%=*}
    value=${1#*=}
    [[ $name =~ ^[A-Z][A-Z0-9_]*$ ]] || die "bad placeholder name '$name'"
    [[ $value != *$'\n'* ]] || die "the value of $name holds a newline"
    export "RENDER_V_$name=$value"
    names+=("$name")
    shift
done
[ "$#" -gt 0 ] || die "missing -- before the templates"
shift
if [ "$#" -eq 0 ] || [ $(($# % 2)) -ne 0 ]; then
    die "expected TEMPLATE OUTPUT pairs after --"
fi
export RENDER_NAMES="${names[*]}"

while [ "$#" -gt 0 ]; do
    src=$1 dst=$2
    shift 2
    [ -r "$src" ] || die "cannot read the template $src"
    # Values come through the environment (ENVIRON), not awk -v, which
    # would interpret backslashes in them.
    if ! awk -v src="$src" '
        function fail(msg) { printf "render.sh: %s:%d: %s\n", src, FNR, msg > "/dev/stderr"; bad = 1 }
        BEGIN {
            n = split(ENVIRON["RENDER_NAMES"], names, " ")
            for (i = 1; i <= n; i++) val[names[i]] = ENVIRON["RENDER_V_" names[i]]
            keep = 1; inif = 0
        }
        /^[[:space:]]*#@if[[:space:]]/ {
            if (inif) fail("nested #@if")
            if (!($2 in val)) fail("#@if " $2 ": no value given for " $2)
            v = val[$2]
            keep = (v != "" && v != "0" && v != "off")
            inif = 1
            next
        }
        /^[[:space:]]*#@else[[:space:]]*$/ {
            if (!inif) fail("#@else without #@if")
            keep = !keep
            next
        }
        /^[[:space:]]*#@endif[[:space:]]*$/ {
            if (!inif) fail("#@endif without #@if")
            keep = 1; inif = 0
            next
        }
        !keep { next }
        {
            line = $0; out = ""
            comment = (line ~ /^[[:space:]]*#/)
            while (match(line, /@[A-Z][A-Z0-9_]*@/)) {
                key = substr(line, RSTART + 1, RLENGTH - 2)
                if (key in val) {
                    out = out substr(line, 1, RSTART - 1) val[key]
                } else {
                    if (!comment) fail("no value for @" key "@")
                    out = out substr(line, 1, RSTART + RLENGTH - 1)
                }
                line = substr(line, RSTART + RLENGTH)
            }
            print out line
        }
        END {
            if (inif) fail("#@if without #@endif")
            exit bad
        }' "$src" > "$dst.tmp"; then
        rm -f "$dst.tmp"
        die "cannot render $src (see above)"
    fi
    mv -f "$dst.tmp" "$dst"
done
