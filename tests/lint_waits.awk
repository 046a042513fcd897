# tests/lint_waits.awk - used by tests/lint.sh: prints every database call
# (db_run, db_begin, ...; not the result readers db_get/db_isnull) made inside
# a loop of an API handler: a handler that polls the database in a loop
# holds a pool worker while it waits (README "Long calls": answer 202 with a
# job instead).  A per-item loop over a body is refused too: one statement
# over a JSON array (jsonb_to_recordset) does it in one round trip.
# Brace depth is tracked per line; a loop opens at the depth where its
# header is seen and closes when the depth falls back to it.
FNR == 1 { depth = 0; n = 0; pending = 0 }
{
	line = $0
	sub(/\/\/.*/, "", line)
	gsub(/"([^"\\]|\\.)*"/, "\"\"", line)	# string literals (SQL) do not count
	if (line ~ /(^|[^A-Za-z0-9_])(for|while)[ \t]*\(/ || line ~ /(^|[^A-Za-z0-9_])do[ \t]*(\{|$)/) {
		if (line ~ /while[ \t]*\(.*\)[ \t]*;[ \t]*$/ && line !~ /\{/) {
			# "} while (...);" closes a do loop, opens nothing
		} else
			pending = 1
	}
	if (n > 0 || pending) {
		if (line ~ /(^|[^A-Za-z0-9_])db_[a-z_]+[ \t]*\(/ && line !~ /db_get|db_isnull/)
			printf "%s:%d: %s\n", FILENAME, FNR, $0
	}
	o = gsub(/\{/, "{", line); c = gsub(/\}/, "}", line)
	if (pending && o > 0) { stack[++n] = depth; pending = 0 }
	else if (pending && line ~ /;[ \t]*$/) pending = 0	# one-statement body
	depth += o - c
	while (n > 0 && depth <= stack[n]) n--
}
