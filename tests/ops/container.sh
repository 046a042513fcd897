# shellcheck shell=bash
# tests/ops/container.sh — sourced by the operator tests that install
# Launcher in a fresh Debian 12 container (test_install.sh, test_deb.sh):
# the container of tests/fixtures/installroot.sh's image, the working tree
# copied into it, and the plane's systemd units started without systemd.
#
# The sourcing script evals installroot.sh's exports first
# (FIXTURE_INSTALLROOT_IMAGE, FIXTURE_INSTALLROOT_CONF) and calls
# container_work NAME: WORK (its temporary directory) and the EXIT trap that
# removes the container and WORK.

# pod ARGS... — the podman CLI on the fixture's store (its own configuration).
pod() {
    CONTAINERS_CONF=$FIXTURE_INSTALLROOT_CONF/containers.conf \
        CONTAINERS_STORAGE_CONF=$FIXTURE_INSTALLROOT_CONF/storage.conf \
        CONTAINERS_REGISTRIES_CONF=$FIXTURE_INSTALLROOT_CONF/registries.conf podman "$@"
}

# container_run — the container CONTAINER (its name: set it first) of the
# image, PID 1 sleeping, no network (nothing is downloaded at run time).
# Status 1 with podman's message on stdout when it does not start.
CONTAINER=""
container_run() {
    local nofile nproc lim_n lim_u out
    # Containers may not get rlimits above ours (runc fails to set them).
    lim_n=$(ulimit -Hn) lim_u=$(ulimit -Hu)
    nofile=65536 nproc=4096
    if [ "$lim_n" != unlimited ] && [ "$lim_n" -lt "$nofile" ]; then nofile=$lim_n; fi
    if [ "$lim_u" != unlimited ] && [ "$lim_u" -lt "$nproc" ]; then nproc=$lim_u; fi
    out=$(pod run -d --name "$CONTAINER" --hostname plane --network none \
        --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" \
        "$FIXTURE_INSTALLROOT_IMAGE" sleep infinity 2>&1) || { printf '%s\n' "$out"; return 1; }
}

# container_rm — removes it (the EXIT trap's), unless INSTALL_TEST_KEEP=1:
# then the command that removes it is printed.
# shellcheck disable=SC2317 # (an EXIT trap's)
container_rm() {
    [ -n "$CONTAINER" ] || return 0
    if [ "${INSTALL_TEST_KEEP:-0}" = 1 ]; then
        printf '# kept the container: CONTAINERS_CONF=%s CONTAINERS_STORAGE_CONF=%s podman rm -f %s\n' \
            "$FIXTURE_INSTALLROOT_CONF/containers.conf" "$FIXTURE_INSTALLROOT_CONF/storage.conf" \
            "$CONTAINER" >&2
    else
        pod rm -f -t 0 "$CONTAINER" > /dev/null 2>&1 || true
    fi
}

# container_work NAME — WORK, a temporary directory launcher-NAME.XXXXXX,
# and the traps: on exit the container (container_rm) and WORK go; an
# interrupt exits 130 through them.
container_work() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/launcher-$1.XXXXXX")
    trap container_cleanup EXIT
    trap 'exit 130' INT TERM
}
# shellcheck disable=SC2317 # (the EXIT trap's)
container_cleanup() {
    container_rm
    rm -rf "$WORK"
}

# in_c COMMAND... — a command in the container, as root.
in_c() { pod exec -i -e LANG=C.UTF-8 "$CONTAINER" "$@"; }

# copy_tree DIR — the working tree into the container's DIR: git ls-files
# (tracked, and untracked not ignored; not the deleted ones) and the
# dashboard's vendored code built outside (build/static/vendor,
# build/npm-vendor), made newer than its inputs so that make runs no npm;
# not build/bin (the container compiles). Status 1 with why on stdout.
copy_tree() {
    local dest=$1 d
    [ -e build/static/vendor/.stamp ] ||
        { echo "build/static/vendor/.stamp missing: run make once outside (the container has no npm)"; return 1; }
    (
        git ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do
                if [ -f "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
            done
        for d in build/static/vendor build/npm-vendor; do
            if [ -d "$d" ]; then printf '%s\0' "$d"; fi
        done
    ) > "$WORK/files"
    tar --null -T "$WORK/files" -cf - | in_c sh -c "mkdir -p '$dest' && tar -C '$dest' -xf -" ||
        { echo "copying the tree into the container failed"; return 1; }
    in_c find "$dest/build/static/vendor" -exec touch {} +
}

# start_unit FILE — runs in the container: a systemd unit started from its
# own lines as systemd would: RuntimeDirectory= (+Mode, owned by User=),
# ExecStartPre= then ExecStart= (prefixes - and + understood) as User=/
# Group=/SupplementaryGroups= (setpriv; NoNewPrivileges=, an empty
# CapabilityBoundingSet=), in WorkingDirectory=, with Environment=; a
# Type=oneshot unit runs once, in the foreground. Output to
# /var/log/unit-NAME.log. Prints "started NAME PID", "oneshot NAME STATUS"
# or "error NAME: why".
# shellcheck disable=SC2317 # (run in the container: declare -f)
start_unit() {
    local f=$1 name line key val user="" group="" sup="" rtdirs="" rtmode=0755 type=simple
    local wd=/ caps=unset nnp=0 exec="" w g groups cmd st pid
    local -a pres=() envs=() runas=() argv=()
    name=$(basename "$f" .service)
    while IFS= read -r line || [ -n "$line" ]; do
        while [[ $line == *\\ ]] && IFS= read -r w; do line=${line%\\}$w; done
        case $line in ''|'#'*|';'*|'['*) continue ;; esac
        key=${line%%=*} val=${line#*=}
        case $key in
            User) user=$val ;;
            Group) group=$val ;;
            SupplementaryGroups) sup="$sup $val" ;;
            RuntimeDirectory) rtdirs="$rtdirs $val" ;;
            RuntimeDirectoryMode) rtmode=$val ;;
            Type) type=$val ;;
            WorkingDirectory) wd=${val#-} ;;
            Environment) eval "envs+=($val)" ;;
            CapabilityBoundingSet) caps=$val ;;
            NoNewPrivileges) case $val in true|yes|1|on) nnp=1 ;; esac ;;
            ExecStartPre) pres+=("$val") ;;
            ExecStart) exec=$val ;;
        esac
    done < "$f"
    [ -n "$exec" ] || { echo "error $name: no ExecStart="; return; }
    if [ -n "$user" ]; then
        id "$user" > /dev/null 2>&1 || { echo "error $name: User=$user does not exist"; return; }
        [ -n "$group" ] || group=$(id -gn "$user")
        groups=$(id -Gn "$user" | tr ' ' ',')
        for g in $sup; do groups="$groups,$g"; done
        runas=(setpriv --reuid="$user" --regid="$group" --groups="$groups")
    fi
    if [ "$caps" = "" ]; then runas=("${runas[@]}" setpriv --bounding-set=-all); fi
    if [ "$nnp" = 1 ]; then runas=("${runas[@]}" setpriv --no-new-privs); fi
    for w in $rtdirs; do
        install -d -m "$rtmode" -o "${user:-root}" -g "${group:-root}" "/run/$w"
    done
    for cmd in "${pres[@]}" "$exec"; do
        local ignore=0 root=0
        while :; do
            case $cmd in
                -*) ignore=1; cmd=${cmd#-} ;;
                +*) root=1; cmd=${cmd#+} ;;
                [@!:]*) cmd=${cmd#?} ;;
                *) break ;;
            esac
        done
        eval "argv=($cmd)"
        local -a pre_as=("${runas[@]}")
        [ "$root" = 0 ] || pre_as=()
        if [ "$cmd" != "$exec" ] || [ "$type" = oneshot ]; then
            st=0
            (cd "$wd" && env "${envs[@]}" "${pre_as[@]}" "${argv[@]}") \
                >> "/var/log/unit-$name.log" 2>&1 < /dev/null || st=$?
            if [ "$st" != 0 ] && [ "$ignore" = 0 ]; then
                echo "error $name: '$cmd' exited $st: $(tail -n 3 "/var/log/unit-$name.log" | tr '\n' ' ')"
                return
            fi
            [ "$cmd" != "$exec" ] || echo "oneshot $name $st"
        else
            (cd "$wd" && exec setsid env "${envs[@]}" "${pre_as[@]}" "${argv[@]}") \
                >> "/var/log/unit-$name.log" 2>&1 < /dev/null &
            pid=$!
            echo "started $name $pid"
        fi
    done
}

# start_units DIR [SKIP_RE] — start_unit in the container for each
# DIR/launcher-*.service whose name does not match SKIP_RE; its lines on
# stdout (see start_unit).
start_units() {
    local dir=$1 skip=${2:-^$} u
    for u in $(in_c sh -c "ls $dir/launcher-*.service 2> /dev/null"); do
        [[ $(basename "$u" .service) =~ $skip ]] && continue
        in_c bash -c "$(declare -f start_unit); start_unit $u" 2>&1
    done
}
