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
CFLAGS="-std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
-fno-sanitize-recover=undefined -Ifcgi $(pkg-config --cflags libpq libcjson) -DLAUNCHER_VERSION=\"fuzz\""
LIBS="-lfcgi -ljwt $(pkg-config --libs libpq libcjson libsodium libcurl libcrypto)"
SRC=$(ls fcgi/core/*.c fcgi/api/*.c)
passed=0
failed=0
for f in tests/fuzz/fuzz_*.c; do
	name=$(basename "$f" .c)
	# shellcheck disable=SC2086
	if ! clang $CFLAGS -o "$OUT/$name" "$f" $SRC $LIBS 2> "$OUT/$name.build.log"; then
		echo "fuzz $name: build failed"; tail -n 20 "$OUT/$name.build.log"
		failed=$((failed + 1)); continue
	fi
	corpus="tests/fuzz/corpus/${name#fuzz_}"
	work="$OUT/corpus-$name"
	mkdir -p "$work"
	[ -d "$corpus" ] && cp -n "$corpus"/* "$work"/ 2>/dev/null
	if "$OUT/$name" -max_total_time="$SECS" -max_len=16384 -artifact_prefix="$OUT/$name-" \
		"$work" > "$OUT/$name.log" 2>&1; then
		echo "fuzz $name: ok ($(grep -o 'Done [0-9]* runs' "$OUT/$name.log" | awk '{print $2}') runs)"
		passed=$((passed + 1))
	else
		echo "fuzz $name: FAILED"; grep -A15 "ERROR\|runtime error\|deadly signal" "$OUT/$name.log" | head -30
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
