# shellcheck shell=bash
# tests/lib/registry.sh - a real container registry on loopback for the
# tests: Debian's docker-registry (distribution 2.8), plain HTTP on
# 127.0.0.1:<free port>, filesystem storage in a directory of the caller's
# (the throwaway stack's state dir). The distribution's own service is never
# used: each instance is `docker-registry serve <dir>/config.yml`, started
# here and stopped here by its pid only.
#
# Sourced (tests/run.sh):
#   . tests/lib/registry.sh
#   registry_start DIR               exports LAUNCHER_TEST_REGISTRY=127.0.0.1:PORT,
#                                    LAUNCHER_TEST_REGISTRY_PID, _DIR
#   registry_start DIR USER PASSWORD with htpasswd auth (bcrypt, htpasswd -B from
#                                    apache2-utils): exports
#                                    LAUNCHER_TEST_REGISTRY_AUTH=127.0.0.1:PORT,
#                                    LAUNCHER_TEST_REGISTRY_AUTH_USER, _PASSWORD,
#                                    _PID, _DIR
#   registry_stop [auth]             kills that instance's pid (nothing else)
# or run for a manual session (prints the export lines; stop with kill PID):
#   eval "$(bash tests/lib/registry.sh start DIR [USER PASSWORD])"
#
# Options from the environment of registry_start (the Registries tests):
#   REGISTRY_PREFIX=NAME             export NAME, NAME_PID, ... instead
#   REGISTRY_AUTH_PASSWORD=SECRET    the password when the argument is "-"
#                                    (kept out of every argv: htpasswd -i)
#   REGISTRY_TLS_CERT=PEM REGISTRY_TLS_KEY=PEM
#                                    HTTPS with that certificate (e.g. the
#                                    throwaway stack's <state>/tls/cert.pem,
#                                    self-signed for localhost and 127.0.0.1)
#   REGISTRY_TOKEN_REALM=URL REGISTRY_TOKEN_SERVICE=S REGISTRY_TOKEN_ISSUER=I
#   REGISTRY_TOKEN_ROOTCERTBUNDLE=PEM
#                                    token auth (the Bearer flow) instead of
#                                    htpasswd: tokens of tests/lib/token_server.py
# DIR holds config.yml, htpasswd (auth), data/ (the blobs and manifests) and
# registry.log; it is made when missing and may be shared by nothing else.
# Plain HTTP: an engine that pulls from it must list it as insecure (the
# stack's Podman: LAUNCHER_INSECURE_REGISTRIES=127.0.0.1:PORT,...).
#
# The packages are installed with apt-get when missing (root), like
# tests/fixtures/build.sh does for git and busybox-static; a distribution
# service that the install started (systemd hosts) is stopped again.

REGISTRY_BIN=/usr/bin/docker-registry

_registry_log() { printf 'registry: %s\n' "$*" >&2; }

# _registry_pkg PACKAGE — apt-get install it unless dpkg has it.
_registry_pkg() {
	local pkg=$1 out rc=0
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] && return 0
	[ "$(id -u)" = 0 ] || { _registry_log "$pkg is not installed (apt-get install $pkg, as root)"; return 1; }
	_registry_log "installing $pkg (apt-get)"
	out=$(mktemp)
	# (once more after apt-get update when the package lists are missing/old)
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 "$pkg" > "$out" 2>&1 ||
		{ apt-get update -q -o DPkg::Lock::Timeout=120 > "$out" 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 "$pkg" > "$out" 2>&1; } ||
		rc=1
	[ "$rc" = 0 ] || { tail -n 20 "$out" >&2; _registry_log "apt-get install $pkg failed"; }
	rm -f "$out"
	return "$rc"
}

# _registry_ensure_bin — docker-registry installed; its service not running
# because of us.
_registry_ensure_bin() {
	[ -x "$REGISTRY_BIN" ] && return 0
	local was_active=0
	if command -v systemctl > /dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
		was_active=1
	fi
	_registry_pkg docker-registry || return 1
	[ -x "$REGISTRY_BIN" ] || { _registry_log "$REGISTRY_BIN missing after the install"; return 1; }
	# The package enables and starts docker-registry.service (port 5000) where
	# services may start (systemd; not under policy-rc.d 101). We never use it.
	if [ "$was_active" = 0 ] && command -v systemctl > /dev/null 2>&1 &&
	   systemctl is-active --quiet docker-registry 2>/dev/null; then
		_registry_log "stopping the distribution's docker-registry service that the install started"
		systemctl stop docker-registry 2>/dev/null || true
		systemctl disable docker-registry > /dev/null 2>&1 || true
	fi
}

_registry_free_port() {
	/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/ports.py"
}

# _registry_status ADDR — HTTP status of GET /v2/ (000: no answer).
_registry_status() {
	if [ -n "${REGISTRY_TLS_CERT:-}" ]; then
		curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$REGISTRY_TLS_CERT" \
			"https://$1/v2/" 2>/dev/null || true
	else
		curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$1/v2/" 2>/dev/null || true
	fi
}

# _registry_config DIR PORT AUTH — DIR/config.yml. (The Registries issue adds
# token auth here when it needs it; htpasswd is what distribution 2.8 has
# built in.)
_registry_config() {
	local dir=$1 port=$2 auth=$3
	cat > "$dir/config.yml.tmp" <<EOF
# Written by tests/lib/registry.sh on every start; edits are lost.
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  headers:
    X-Content-Type-Options: [nosniff]
EOF
	if [ -n "${REGISTRY_TLS_CERT:-}" ]; then
		cat >> "$dir/config.yml.tmp" <<EOF
  tls:
    certificate: $REGISTRY_TLS_CERT
    key: $REGISTRY_TLS_KEY
EOF
	fi
	if [ "$auth" = 2 ]; then
		cat >> "$dir/config.yml.tmp" <<EOF
auth:
  token:
    realm: $REGISTRY_TOKEN_REALM
    service: $REGISTRY_TOKEN_SERVICE
    issuer: $REGISTRY_TOKEN_ISSUER
    rootcertbundle: $REGISTRY_TOKEN_ROOTCERTBUNDLE
EOF
	elif [ "$auth" = 1 ]; then
		cat >> "$dir/config.yml.tmp" <<EOF
auth:
  htpasswd:
    realm: launcher-test
    path: $dir/htpasswd
EOF
	fi
	mv -f "$dir/config.yml.tmp" "$dir/config.yml"
}

# registry_start DIR [USER PASSWORD] — see the header. Status 0 once GET /v2/
# answers (200, or 401 with auth).
registry_start() {
	local dir=$1 user=${2:-} password=${3:-} auth=0 want=200 prefix=LAUNCHER_TEST_REGISTRY
	local port pid deadline code
	[ -n "$dir" ] || { _registry_log "registry_start needs a directory"; return 1; }
	case $dir in /*) ;; *) dir=$PWD/$dir ;; esac
	if [ -n "$user" ]; then
		auth=1 want=401 prefix=LAUNCHER_TEST_REGISTRY_AUTH
		[[ $user =~ ^[A-Za-z0-9._-]+$ ]] || { _registry_log "bad user name '$user'"; return 1; }
		[ "$password" = - ] && password=${REGISTRY_AUTH_PASSWORD:-}
		[ -n "$password" ] || { _registry_log "registry_start $dir $user: no password"; return 1; }
	fi
	if [ -n "${REGISTRY_TOKEN_REALM:-}" ]; then
		auth=2 want=401
		[ -n "$user" ] && { _registry_log "token auth takes no user (the token server checks them)"; return 1; }
	fi
	if [ -n "${REGISTRY_TLS_CERT:-}" ] && [ ! -r "${REGISTRY_TLS_KEY:-}" ]; then
		_registry_log "REGISTRY_TLS_CERT needs a readable REGISTRY_TLS_KEY"; return 1
	fi
	prefix=${REGISTRY_PREFIX:-$prefix}
	_registry_ensure_bin || return 1
	install -d -m 0755 "$dir" "$dir/data" || return 1
	if [ "$auth" = 1 ]; then
		command -v htpasswd > /dev/null || _registry_pkg apache2-utils || return 1
		# -B: bcrypt, the only hash distribution's htpasswd accepts; -i: the
		# password on stdin, never in an argv.
		printf '%s\n' "$password" | htpasswd -Bic "$dir/htpasswd" "$user" 2> /dev/null ||
			{ _registry_log "htpasswd -B failed"; return 1; }
	fi
	# A port found free may be taken before the registry binds it: try again.
	for _ in 1 2 3; do
		port=$(_registry_free_port) || return 1
		_registry_config "$dir" "$port" "$auth"
		printf '\n== %s docker-registry on 127.0.0.1:%s\n' "$(date -u +%FT%TZ)" "$port" >> "$dir/registry.log"
		# The registry itself is $! (the subshell execs setsid, which execs
		# it); own session; no inherited descriptors but 0-2 (the callers'
		# $(...) pipes would wait for it); a clean environment (distribution
		# reads REGISTRY_* variables as configuration).
		(
			for fd in /proc/self/fd/*; do
				fd=${fd##*/}
				if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
			done
			exec setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
				"$REGISTRY_BIN" serve "$dir/config.yml"
		) < /dev/null >> "$dir/registry.log" 2>&1 &
		pid=$!
		deadline=$((SECONDS + 15))
		while :; do
			code=$(_registry_status "127.0.0.1:$port")
			if [ "$code" = "$want" ]; then
				printf '%s\n' "$pid" > "$dir/registry.pid"
				export "$prefix=127.0.0.1:$port" "${prefix}_PID=$pid" "${prefix}_DIR=$dir"
				if [ "$auth" = 1 ]; then
					export "${prefix}_USER=$user" "${prefix}_PASSWORD=$password"
				fi
				_registry_log "127.0.0.1:$port (pid $pid$([ "$auth" = 1 ] && printf ', htpasswd user %s' "$user")$([ "$auth" = 2 ] && printf ', token auth')$([ -n "${REGISTRY_TLS_CERT:-}" ] && printf ', TLS'), $dir)"
				return 0
			fi
			if ! kill -0 "$pid" 2> /dev/null; then
				break
			fi
			if [ "$SECONDS" -ge "$deadline" ]; then
				kill "$pid" 2> /dev/null
				wait "$pid" 2> /dev/null
				_registry_log "127.0.0.1:$port: GET /v2/ answered '$code', want $want, after 15 s"
				tail -n 10 "$dir/registry.log" >&2
				return 1
			fi
			sleep 0.05
		done
		wait "$pid" 2> /dev/null || true
		grep -q "address already in use" "$dir/registry.log" || break
		_registry_log "127.0.0.1:$port was taken meanwhile; another port"
	done
	_registry_log "docker-registry did not start (log: $dir/registry.log)"
	tail -n 10 "$dir/registry.log" >&2
	return 1
}

# registry_stop [auth] — stop the instance registry_start recorded (its pid,
# after checking that it still is a docker-registry), wait until it is gone.
registry_stop() {
	local prefix=LAUNCHER_TEST_REGISTRY pid
	[ "${1:-}" = auth ] && prefix=LAUNCHER_TEST_REGISTRY_AUTH
	case ${1:-} in LAUNCHER_*) prefix=$1 ;; esac
	local pidv=${prefix}_PID
	pid=${!pidv:-}
	[ -n "$pid" ] || return 0
	if tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q "^$REGISTRY_BIN serve "; then
		kill -TERM "$pid" 2> /dev/null
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2> /dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2> /dev/null && kill -KILL "$pid" 2> /dev/null
		wait "$pid" 2> /dev/null || true
	fi
	unset "$prefix" "${prefix}_PID"
	return 0
}

# Run, not sourced: start one instance, print its export lines.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case ${1:-} in
		start)
			[ $# -ge 2 ] || { echo "usage: $0 start DIR [USER PASSWORD]" >&2; exit 2; }
			registry_start "$2" "${3:-}" "${4:-}" || exit 1
			p=LAUNCHER_TEST_REGISTRY
			[ -n "${3:-}" ] && p=LAUNCHER_TEST_REGISTRY_AUTH
			p=${REGISTRY_PREFIX:-$p}
			vs=("$p" "${p}_PID" "${p}_DIR" "${p}_USER" "${p}_PASSWORD")
			# (a password from REGISTRY_AUTH_PASSWORD is the caller's: not printed)
			[ "${4:-}" = - ] && unset 'vs[4]'
			for v in "${vs[@]}"; do
				[ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
			done
			exit 0 ;;
		*) echo "usage: $0 start DIR [USER PASSWORD]  (sourced: registry_start / registry_stop)" >&2
		   exit 2 ;;
	esac
fi
