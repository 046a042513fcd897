#!/usr/bin/env bash
# conf/debian/build.sh BUILD VERSION OUTDIR — the Debian package of the
# tree (make deb; README "The Debian package"): `make install` of BUILD's
# binaries into a staging root with the package's paths (PREFIX=/usr,
# SYSTEMDUNITDIR=/lib/systemd/system), then dpkg-deb --root-owner-group
# (no debhelper, no fakeroot: every file is root's; the maintainer scripts
# make the users and give them their directories).
#
#   - ELF files stripped (the agent's download copies too, their SHA256SUMS
#     written again); Depends from dpkg-shlibdeps plus the tools the
#     maintainer scripts and launcher-admin setup run (control.in);
#   - every file under /etc a conffile (dpkg keeps an operator's edit and
#     puts the new one beside it as .dpkg-dist);
#   - the nginx site's sites-enabled link is not shipped: postinst makes it
#     on a first install;
#   - lintian's overrides (conf/debian/lintian-overrides, each with its reason);
#   - /usr/share/doc/launcher: copyright, changelog.gz (conf/debian/changelog,
#     with an entry for VERSION on top when it is not the newest one there:
#     a build with DEB_SUFFIX);
#   - DEBIAN/: control, conffiles, md5sums, postinst/prerm/postrm with the
#     package's units filled in.
# Prints the .deb's path last.
set -euo pipefail
umask 022

build=${1:?usage: build.sh BUILD VERSION OUTDIR}
version=${2:?usage: build.sh BUILD VERSION OUTDIR}
outdir=${3:?usage: build.sh BUILD VERSION OUTDIR}
here=$(cd "$(dirname "$0")" && pwd -P)
top=$(cd "$here/../.." && pwd -P)
case $build in /*) ;; *) build=$top/$build ;; esac
case $outdir in /*) ;; *) outdir=$top/$outdir ;; esac
die() { printf 'make deb: %s\n' "$*" >&2; exit 1; }

[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] ||
	die "version '$version' is not a native Debian version (digits first, then [A-Za-z0-9.+~])"
for tool in dpkg-deb dpkg-shlibdeps strip md5sum gzip; do
	command -v "$tool" > /dev/null || die "$tool not found (apt-get install dpkg-dev binutils)"
done
arch=$(dpkg --print-architecture)
work=$build/deb
root=$work/root
rm -rf "$work"
mkdir -p "$root" "$outdir"

# ------------------------------------------------------------ the files

${MAKE:-make} -C "$top" --no-print-directory -s install BUILD="$build" DESTDIR="$root" PREFIX=/usr \
	SYSCONFDIR=/etc LOCALSTATEDIR=/var SYSTEMDUNITDIR=/lib/systemd/system > "$work/install.log" 2>&1 ||
	{ tail -n 20 "$work/install.log" >&2; die "make install into $root failed"; }
rm -f "$root/etc/nginx/sites-enabled/launcher"
rmdir "$root/etc/nginx/sites-enabled" 2> /dev/null || true
# The TLS, state and log directories, owned by the users, are postinst's
# (install-system.sh), the runtime directory systemd's: not the package's.
rm -rf "$root/etc/launcher/tls" "$root/var/lib/launcher" "$root/var/log/launcher" "$root/run"
rmdir "$root/var/lib" "$root/var/log" "$root/var" 2> /dev/null || true

# Strip every ELF file; the agent's downloads are checked against their
# SHA256SUMS, written again for the stripped files.
while IFS= read -r -d '' f; do
	if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then
		# (a download of another architecture, copied in, stays as it is)
		strip --strip-unneeded --remove-section=.comment --remove-section=.note "$f" 2> /dev/null ||
			printf 'make deb: %s not stripped (another architecture?)\n' "${f#"$root"}" >&2
	fi
done < <(find "$root" -type f -print0)
while IFS= read -r -d '' sums; do
	(
		cd "$(dirname "$sums")"
		awk '{ sub(/^\*/, "", $2); print $2 }' SHA256SUMS > "$work/sums.list"
		xargs -r -d '\n' sha256sum < "$work/sums.list" > SHA256SUMS.new
		mv -f SHA256SUMS.new SHA256SUMS
	)
done < <(find "$root" -type f -name SHA256SUMS -print0)

# Modes: directories and executables 0755, other files 0644, but what make
# install made private (a key, a pgpass) keeps its mode.
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f -perm /111 -exec chmod 0755 {} +
find "$root" -type f ! -perm /111 -perm /044 -exec chmod 0644 {} +

doc=$root/usr/share/doc/launcher
install -d -m 0755 "$doc"
install -m 0644 "$here/copyright" "$doc/copyright"
install -d -m 0755 "$root/usr/share/lintian/overrides"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/launcher"
{
	top_version=$(sed -n '1s/^launcher (\([^)]*\)).*/\1/p' "$here/changelog")
	if [ "$top_version" != "$version" ]; then
		commit=$(git -C "$top" rev-parse --short HEAD 2> /dev/null || echo unknown)
		printf 'launcher (%s) bookworm; urgency=medium\n\n' "$version"
		printf '  * Built from the tree at %s (make deb DEB_SUFFIX=%s).\n\n' "$commit" "${version#"$top_version"}"
		printf ' -- Launcher maintainers <maintainers@users.noreply.r-seed-52815fc5.example>  %s\n\n' \
			"$(LC_ALL=C date -u -R -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")"
	fi
	cat "$here/changelog"
} | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# ------------------------------------------------------------- DEBIAN/

deb=$root/DEBIAN
install -d -m 0755 "$deb"
# Timers and path units first: prerm stops them before their services.
units=$(find "$root/lib/systemd/system" -maxdepth 1 \( -name 'launcher-*.timer' -o -name 'launcher-*.path' \) \
		-printf '%f\n' 2> /dev/null | sort
	find "$root/lib/systemd/system" -maxdepth 1 -name 'launcher-*.service' -printf '%f\n' 2> /dev/null | sort)
units=$(printf '%s\n' "$units" | grep . | tr '\n' ' ' | sed 's/ $//' || true)
[ -n "$units" ] || die "make install put no launcher-*.service in $root/lib/systemd/system"
for s in postinst prerm postrm; do
	sed "s|@UNITS@|$units|" "$here/$s" > "$deb/$s"
	chmod 0755 "$deb/$s"
done
if [ -d "$root/etc" ]; then
	(cd "$root" && find etc -type f | sort | sed 's|^|/|') > "$deb/conffiles"
	chmod 0644 "$deb/conffiles"
	[ -s "$deb/conffiles" ] || rm -f "$deb/conffiles"
fi

# Depends: the libraries of every ELF file (dpkg-shlibdeps wants a
# debian/control beside it).
mkdir -p "$work/shlibs/debian"
printf 'Source: launcher\n\nPackage: launcher\nArchitecture: any\n' > "$work/shlibs/debian/control"
elves=()
while IFS= read -r -d '' f; do elves+=("-e$f"); done < <(find "$root/usr/bin" -type f -print0)
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O "${elves[@]}" 2> "$work/shlibdeps.log" |
	sed -n 's/^shlibs:Depends=//p') || { cat "$work/shlibdeps.log" >&2; die "dpkg-shlibdeps failed"; }
[ -n "$shlibs" ] || { cat "$work/shlibdeps.log" >&2; die "dpkg-shlibdeps found no library"; }

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@INSTALLED_SIZE@|$size|" \
	-e "s|@SHLIBS@|$shlibs|" "$here/control.in" > "$deb/control"
chmod 0644 "$deb/control"
# md5sums: every file but the conffiles (dpkg keeps their sums itself).
(cd "$root" && find . \( -path ./DEBIAN -o -path ./etc \) -prune -o -type f -print0 | sort -z | sed -z 's|^\./||' |
	xargs -0 -r md5sum) > "$deb/md5sums"
chmod 0644 "$deb/md5sums"

out=$outdir/launcher_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" > /dev/null
printf '%s\n' "$out"
