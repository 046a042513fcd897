# tests/lib/throwaway_stack.sh - sourced by the test and bench scripts:
# `throwaway_stack NAME` exports a fresh state directory
# (/var/tmp/launcher-NAME.XXXXXX) and free loopback ports for a second,
# independent stack of conf/stack/launcher-stack.sh.
throwaway_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

throwaway_stack() {
	export LAUNCHER_STATE_DIR LAUNCHER_HTTP_PORT LAUNCHER_HTTPS_PORT LAUNCHER_SMTP_PORT LAUNCHER_PG_PORT
	LAUNCHER_STATE_DIR=$(mktemp -d "/var/tmp/launcher-$1.XXXXXX")
	chmod 755 "$LAUNCHER_STATE_DIR"
	LAUNCHER_HTTP_PORT=$(throwaway_port)
	LAUNCHER_HTTPS_PORT=$(throwaway_port)
	LAUNCHER_SMTP_PORT=$(throwaway_port)
	LAUNCHER_PG_PORT=$(throwaway_port)
}
