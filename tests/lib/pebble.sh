# shellcheck shell=bash
# tests/lib/pebble.sh - an ACME CA on loopback for the tests: Debian's
# pebble (the Let's Encrypt project's test CA), its own config made here,
# started here and stopped here by its pid only.
#
# Sourced:
#   . tests/lib/pebble.sh
#   pebble_start DIR HTTP_PORT DNS_ADDR [VALIDITY_SECONDS]
#       DIR               made when missing; holds the config, the listener's
#                         CA and certificate, pebble.log, pebble.pid, root.pem
#       HTTP_PORT         the port its HTTP-01 validations connect to (the
#                         edge nginx's plain port)
#       DNS_ADDR          host:port of the DNS server it resolves names with
#       VALIDITY_SECONDS  the issued certificates' validity (short ones test
#                         renewals); pebble's default (5 years) when absent
#     exports PEBBLE_DIRECTORY_URL (https://127.0.0.1:PORT/dir),
#             PEBBLE_CA_FILE   (the CA of its listener's certificate: what an
#                               ACME client trusts, LEGO_CA_CERTIFICATES)
#             PEBBLE_ROOT_FILE (the root of the certificates it issues, from
#                               its management port: curl --cacert)
#             PEBBLE_PID, PEBBLE_MGMT_URL
#   pebble_stop DIR   kills the pid in DIR/pebble.pid (nothing else)
# or run alone (prints the export lines; stop with pebble_stop or kill PID):
#   bash tests/lib/pebble.sh start DIR HTTP_PORT DNS_ADDR [VALIDITY_SECONDS]
#
# Env of pebble: PEBBLE_VA_NOSLEEP=1 (no random wait before a validation),
# PEBBLE_WFE_NONCEREJECT=0 (no nonce refused at random): a test's ACME
# exchange is then deterministic.  The root is regenerated at every start.

PEBBLE_BIN=${PEBBLE_BIN:-/usr/bin/pebble}

_pebble_log() { printf 'pebble: %s\n' "$*" >&2; }

pebble_start() {
	local dir=$1 http_port=$2 dns=$3 validity=${4:-} here ports listen mgmt tls i
	[ -n "$dir" ] && [ -n "$http_port" ] && [ -n "$dns" ] ||
		{ _pebble_log "usage: pebble_start DIR HTTP_PORT DNS_ADDR [VALIDITY_SECONDS]"; return 1; }
	[ -x "$PEBBLE_BIN" ] || { _pebble_log "$PEBBLE_BIN missing (apt-get install pebble)"; return 1; }
	here=$(dirname "${BASH_SOURCE[0]}")
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd -P)
	read -r listen mgmt tls <<< "$(/usr/bin/python3 "$here/ports.py" 3)"
	# The listener's certificate: a CA made here signs one for 127.0.0.1 and localhost.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=launcher test pebble listener CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" \
		> "$dir/openssl.log" 2>&1 &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-subj "/CN=127.0.0.1" -keyout "$dir/key.pem" -out "$dir/cert.csr" >> "$dir/openssl.log" 2>&1 &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$dir/ext.cnf" &&
	openssl x509 -req -in "$dir/cert.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
		-days 2 -extfile "$dir/ext.cnf" -out "$dir/cert.pem" >> "$dir/openssl.log" 2>&1 ||
		{ _pebble_log "openssl failed:"; cat "$dir/openssl.log" >&2; return 1; }
	/usr/bin/python3 - "$dir" "$listen" "$mgmt" "$http_port" "$tls" "$validity" <<'PY' || return 1
import json, sys
d, listen, mgmt, http, tls, validity = sys.argv[1:7]
c = {"listenAddress": "127.0.0.1:" + listen, "managementListenAddress": "127.0.0.1:" + mgmt,
     "certificate": d + "/cert.pem", "privateKey": d + "/key.pem", "httpPort": int(http),
     "tlsPort": int(tls), "ocspResponderURL": "", "externalAccountBindingRequired": False}
if validity:
    c["certificateValidityPeriod"] = int(validity)
json.dump({"pebble": c}, open(d + "/pebble-config.json", "w"), indent=2)
PY
	PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 setsid "$PEBBLE_BIN" -config "$dir/pebble-config.json" \
		-dnsserver "$dns" < /dev/null > "$dir/pebble.log" 2>&1 &
	echo $! > "$dir/pebble.pid"
	export PEBBLE_PID
	PEBBLE_PID=$(cat "$dir/pebble.pid")
	# Ready when its directory answers (over its own TLS, trusted by our CA).
	for ((i = 0; i < 100; i++)); do
		if curl -sf -o /dev/null --max-time 2 --cacert "$dir/ca.pem" "https://127.0.0.1:$listen/dir"; then
			break
		fi
		kill -0 "$PEBBLE_PID" 2> /dev/null || { _pebble_log "exited:"; tail -n 20 "$dir/pebble.log" >&2; return 1; }
		sleep 0.1
	done
	[ "$i" -lt 100 ] || { _pebble_log "no answer on 127.0.0.1:$listen"; pebble_stop "$dir"; return 1; }
	if ! curl -sf --max-time 5 --cacert "$dir/ca.pem" -o "$dir/root.pem" "https://127.0.0.1:$mgmt/roots/0"; then
		_pebble_log "no root from https://127.0.0.1:$mgmt/roots/0"
		pebble_stop "$dir"
		return 1
	fi
	export PEBBLE_DIRECTORY_URL="https://127.0.0.1:$listen/dir" PEBBLE_CA_FILE="$dir/ca.pem" \
		PEBBLE_ROOT_FILE="$dir/root.pem" PEBBLE_MGMT_URL="https://127.0.0.1:$mgmt"
	return 0
}

pebble_stop() {
	local dir=$1 pid i
	[ -f "$dir/pebble.pid" ] || return 0
	pid=$(cat "$dir/pebble.pid")
	if [ -n "$pid" ] && kill "$pid" 2> /dev/null; then
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2> /dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2> /dev/null || true
	fi
	rm -f "$dir/pebble.pid"
	return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	start)
		shift
		pebble_start "$@" || exit 1
		printf 'export PEBBLE_DIRECTORY_URL=%s PEBBLE_CA_FILE=%s PEBBLE_ROOT_FILE=%s PEBBLE_PID=%s PEBBLE_MGMT_URL=%s\n' \
			"$PEBBLE_DIRECTORY_URL" "$PEBBLE_CA_FILE" "$PEBBLE_ROOT_FILE" "$PEBBLE_PID" "$PEBBLE_MGMT_URL"
		;;
	stop) pebble_stop "${2:?DIR}" ;;
	*) echo "usage: $0 start DIR HTTP_PORT DNS_ADDR [VALIDITY_SECONDS] | stop DIR" >&2; exit 2 ;;
	esac
fi
