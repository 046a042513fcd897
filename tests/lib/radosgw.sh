#!/usr/bin/env bash
# tests/lib/radosgw.sh - a real S3 server on loopback for the tests: a
# one-node Ceph (monitor, one memstore OSD) and its RADOS Gateway, all under
# one directory, started without systemd (recipe: shared spec
# S3-TEST-SERVER.md; Debian's radosgw ceph-mon ceph-osd, installed by
# make install-deps).  It checks SigV4 signatures and per-user ownership.
#
#   bash tests/lib/radosgw.sh start DIR [PORT]   prints the export lines:
#       S3_TEST_ENDPOINT=http://127.0.0.1:PORT S3_TEST_REGION=us-east-1
#       S3_TEST_ACCESS_KEY/S3_TEST_SECRET_KEY (user "launcher-test", with the
#           admin ops caps users, buckets, metadata (all) and usage (read):
#           the bucket store driver's admin, fcgi/core/bucketstore.c)
#       S3_TEST_OTHER_ACCESS_KEY/S3_TEST_OTHER_SECRET_KEY (user "launcher-other")
#       S3_TEST_DNS_NAME=localhost  (rgw_dns_name: virtual-host style is
#           http://<bucket>.localhost:PORT; curl resolves *.localhost to
#           loopback itself, so no resolver or mapping is needed)
#       S3_TEST_DIR=DIR
#   bash tests/lib/radosgw.sh stop DIR   stops radosgw, the OSD, then the
#       monitor, each by the pid in its pid file (nothing else)
#   RADOSGW_ALSO=ADDR (environment): radosgw also listens on ADDR:PORT (an
#       address of the host that containers reach, for applications that use
#       the store: tests/api/test_buckets_e2e.py) and the exports add
#       S3_TEST_HOST_ENDPOINT=http://ADDR:PORT
# PORT: free loopback port when absent.  The data lives in RAM (memstore,
# capped at 2 GiB); DIR holds config, keyrings, logs and pid files.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
RGW_NAME=launcher

log() { printf 'radosgw.sh: %s\n' "$*" >&2; }

stop_pid() { # stop_pid PIDFILE: TERM, wait up to 10 s, then KILL
	local f=$1 pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f" 2> /dev/null)
	case $pid in '' | *[!0-9]*) rm -f "$f"; return 0 ;; esac
	kill -TERM "$pid" 2> /dev/null || { rm -f "$f"; return 0; }
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2> /dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2> /dev/null && kill -KILL "$pid" 2> /dev/null
	rm -f "$f"
}

cmd_stop() {
	local dir=$1
	[ -d "$dir" ] || return 0
	stop_pid "$dir/run/radosgw.pid"
	stop_pid "$dir/run/osd.pid"
	stop_pid "$dir/run/mon.pid"
}

wait_file() { # wait_file FILE TENTHS
	local i
	for ((i = 0; i < $2; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

cmd_start() {
	local dir=$1 port=${2:-} monport fsid uuid c kr i ak sk oak osk
	for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
		command -v "$b" > /dev/null || { log "$b missing (make install-deps: radosgw ceph-mon ceph-osd)"; return 1; }
	done
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd -P)
	cmd_stop "$dir"
	rm -rf "$dir/mon" "$dir/osd" "$dir/run" "$dir/log" "$dir/rgw" "$dir/monmap" "$dir"/*.keyring
	mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log" || return 1
	if [ -z "$port" ]; then
		read -r port monport <<< "$(/usr/bin/python3 "$HERE/ports.py" 2)"
	else
		monport=$(/usr/bin/python3 "$HERE/ports.py" 1)
	fi
	fsid=$(cat /proc/sys/kernel/random/uuid)
	c=$dir/ceph.conf
	cat > "$c" <<EOF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$monport]
mon_initial_members = a
ms_bind_msgr1 = false
ms_bind_ipv6 = false
public_addr = 127.0.0.1
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $dir/\$name.keyring
run_dir = $dir/run
pid_file = $dir/run/\$type.pid
admin_socket = $dir/run/\$name.asok
log_file = $dir/log/\$name.log
log_to_stderr = false
err_to_stderr = false
crash_dir = $dir/crash
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
osd_crush_initial_weight = 1
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 1
mon_data_avail_crit = 0
paxos_propose_interval = 0.01
paxos_min_wait = 0.001
[mon]
mon_data = $dir/mon/\$cluster-\$id
[osd]
osd_data = $dir/osd/\$cluster-\$id
osd_objectstore = memstore
memstore_device_bytes = 2147483648
osd_max_object_size = 134217728
[client.rgw.$RGW_NAME]
rgw_frontends = beast endpoint=127.0.0.1:$port${RADOSGW_ALSO:+ endpoint=$RADOSGW_ALSO:$port}
rgw_dns_name = localhost
rgw_data = $dir/rgw
EOF
	mkdir -p "$dir/rgw" "$dir/crash"
	kr=$dir/seed.keyring
	{
		ceph-authtool --create-keyring "$kr" --gen-key -n mon. --cap mon 'allow *' &&
		ceph-authtool --create-keyring "$dir/client.admin.keyring" --gen-key -n client.admin \
			--cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' &&
		ceph-authtool --create-keyring "$dir/osd.0.keyring" --gen-key -n osd.0 \
			--cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd' &&
		ceph-authtool --create-keyring "$dir/client.rgw.$RGW_NAME.keyring" --gen-key -n "client.rgw.$RGW_NAME" \
			--cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' &&
		ceph-authtool "$kr" --import-keyring "$dir/client.admin.keyring" &&
		ceph-authtool "$kr" --import-keyring "$dir/osd.0.keyring" &&
		ceph-authtool "$kr" --import-keyring "$dir/client.rgw.$RGW_NAME.keyring" &&
		monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$monport]" "$dir/monmap" &&
		ceph-mon -c "$c" --mkfs -i a --monmap "$dir/monmap" --keyring "$kr"
	} > "$dir/log/setup.log" 2>&1 || { log "setup failed:"; tail -n 20 "$dir/log/setup.log" >&2; return 1; }
	ceph-mon -c "$c" -i a >> "$dir/log/setup.log" 2>&1 &&
		wait_file "$dir/run/mon.pid" 100 || { log "ceph-mon did not start"; tail -n 20 "$dir/log/mon.a.log" >&2; cmd_stop "$dir"; return 1; }
	uuid=$(cat /proc/sys/kernel/random/uuid)
	{
		ceph -c "$c" --connect-timeout 20 osd new "$uuid" 0 -i /dev/null &&
		mkdir -p "$dir/osd/ceph-0" &&
		ceph-osd -c "$c" -i 0 --mkfs --osd-uuid "$uuid" &&
		ceph-osd -c "$c" -i 0
	} >> "$dir/log/setup.log" 2>&1 &&
		wait_file "$dir/run/osd.pid" 100 || { log "ceph-osd did not start"; tail -n 20 "$dir/log/setup.log" >&2; cmd_stop "$dir"; return 1; }
	radosgw -c "$c" -n "client.rgw.$RGW_NAME" >> "$dir/log/setup.log" 2>&1 &&
		wait_file "$dir/run/client.pid" 100 || true
	# radosgw's pid file is named after its type (client); keep one name
	[ -s "$dir/run/client.pid" ] && mv "$dir/run/client.pid" "$dir/run/radosgw.pid"
	for ((i = 0; i < 300; i++)); do
		curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" && break
		sleep 0.1
	done
	[ "$i" -lt 300 ] || { log "radosgw does not answer on 127.0.0.1:$port"; tail -n 20 "$dir/log/client.rgw.$RGW_NAME.log" >&2; cmd_stop "$dir"; return 1; }
	ak=LNTEST$(od -An -N7 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
	sk=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
	oak=LNOTHR$(od -An -N7 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
	osk=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
	{
		radosgw-admin -c "$c" -n client.admin user create --uid launcher-test --display-name launcher-test \
			--access-key "$ak" --secret-key "$sk" &&
		radosgw-admin -c "$c" -n client.admin caps add --uid launcher-test \
			--caps="users=*;buckets=*;usage=read;metadata=*" &&
		radosgw-admin -c "$c" -n client.admin user create --uid launcher-other --display-name launcher-other \
			--access-key "$oak" --secret-key "$osk"
	} >> "$dir/log/setup.log" 2>&1 || { log "user create failed"; tail -n 20 "$dir/log/setup.log" >&2; cmd_stop "$dir"; return 1; }
	cat <<EOF
export S3_TEST_ENDPOINT=http://127.0.0.1:$port S3_TEST_REGION=us-east-1
export S3_TEST_ACCESS_KEY=$ak S3_TEST_SECRET_KEY=$sk
export S3_TEST_OTHER_ACCESS_KEY=$oak S3_TEST_OTHER_SECRET_KEY=$osk
export S3_TEST_DNS_NAME=localhost S3_TEST_DIR=$dir
EOF
	if [ -n "${RADOSGW_ALSO:-}" ]; then echo "export S3_TEST_HOST_ENDPOINT=http://$RADOSGW_ALSO:$port"; fi
}

case ${1:-} in
start) [ -n "${2:-}" ] || { log "usage: radosgw.sh start DIR [PORT]"; exit 2; }; cmd_start "$2" "${3:-}" ;;
stop) [ -n "${2:-}" ] || { log "usage: radosgw.sh stop DIR"; exit 2; }; cmd_stop "$2" ;;
*) log "usage: radosgw.sh start DIR [PORT] | stop DIR"; exit 2 ;;
esac
