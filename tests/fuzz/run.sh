#!/usr/bin/env bash
# tests/fuzz/run.sh - builds each fuzzer (clang, libFuzzer, ASan, UBSan)
# and runs it for FUZZ_SECONDS (default 10) from its corpus in
# tests/fuzz/corpus/<name>/ (seeds committed; new finds stay local).
# Prints "fuzz: N passed, N failed" (a fuzzer that finds a crash fails).
set -u
cd "$(dirname "$0")/../.."
SECS=${FUZZ_SECONDS:-10}
OUT=build-fuzz
mkdir -p "$OUT"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -g -O1 $SAN \
-Ifcgi $(pkg-config --cflags libpq libcjson) -DLAUNCHER_VERSION=\"fuzz\""
LIBS="-lfcgi -ljwt $(pkg-config --libs libpq libcjson libsodium libcurl libcrypto zlib yaml-0.1) -lresolv"
passed=0
failed=0
# Every module (core, API, agent) compiled once, instrumented, into one
# archive; each fuzzer takes from it only the objects it needs.
rm -rf "$OUT/obj" "$OUT/liblauncher-fuzz.a"
mkdir -p "$OUT/obj"
: > "$OUT/lib.build.log"
for src in fcgi/core/*.c fcgi/api/*.c fcgi/agent/*.c; do
	# shellcheck disable=SC2086
	clang $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$OUT/obj/$(echo "$src" | tr / _).o" \
		2>> "$OUT/lib.build.log" &
	[ "$(jobs -rp | wc -l)" -lt 2 ] || wait -n
done
wait
if [ "$(ls "$OUT"/obj/*.o 2>/dev/null | wc -l)" != "$(ls fcgi/core/*.c fcgi/api/*.c fcgi/agent/*.c | wc -l)" ] ||
	! ar rcs "$OUT/liblauncher-fuzz.a" "$OUT"/obj/*.o; then
	echo "fuzz: the modules do not build"; tail -n 20 "$OUT/lib.build.log"
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi
# fuzz_one NAME: builds and runs one fuzzer; prints its lines, the last one
# "fuzz NAME: ok (...)" when it passed.
fuzz_one() {
	local name=$1 corpus work
	# shellcheck disable=SC2086
	if ! clang $CFLAGS -fsanitize=fuzzer -o "$OUT/$name" "tests/fuzz/$name.c" "$OUT/liblauncher-fuzz.a" $LIBS \
		2> "$OUT/$name.build.log"; then
		echo "fuzz $name: build failed"; tail -n 20 "$OUT/$name.build.log"
		return 1
	fi
	corpus="tests/fuzz/corpus/${name#fuzz_}"
	work="$OUT/corpus-$name"
	mkdir -p "$work"
	# More than one committed seed per parser: a lone seed is one shape only.
	if [ "$(find "$corpus" -maxdepth 1 -type f 2>/dev/null | wc -l)" -lt 2 ]; then
		echo "fuzz $name: fewer than 2 seeds in $corpus"
		return 1
	fi
	cp -n "$corpus"/* "$work"/ 2>/dev/null
	if "$OUT/$name" -max_total_time="$SECS" -max_len=16384 -artifact_prefix="$OUT/$name-" \
		"$work" > "$OUT/$name.log" 2>&1; then
		echo "fuzz $name: ok ($(grep -o 'Done [0-9]* runs' "$OUT/$name.log" | awk '{print $2}') runs)"
	else
		echo "fuzz $name: FAILED"
		grep -A15 "ERROR\|runtime error\|deadly signal" "$OUT/$name.log" | head -30 ||
			tail -n 15 "$OUT/$name.log"
		# The input that failed, so a CI log is enough to reproduce it
		# (base64 -d > f; build-fuzz/NAME f).
		for art in "$OUT/$name"-*; do
			[ -f "$art" ] || continue
			echo "fuzz $name: input $(basename "$art") ($(stat -c %s "$art") bytes, base64):"
			head -c 4096 "$art" | base64 -w 0; echo
		done
		return 1
	fi
}
# Two fuzzers at a time (each is one process: one core each, for the same
# FUZZ_SECONDS), their lines printed in order afterwards.
names=()
for f in tests/fuzz/fuzz_*.c; do
	name=$(basename "$f" .c)
	names+=("$name")
	fuzz_one "$name" > "$OUT/$name.result" 2>&1 &
	[ "$(jobs -rp | wc -l)" -lt 2 ] || wait -n
done
wait
for name in "${names[@]}"; do
	cat "$OUT/$name.result"
	if tail -n 1 "$OUT/$name.result" | grep -q "^fuzz $name: ok ("; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
