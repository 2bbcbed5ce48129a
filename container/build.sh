#!/bin/sh
# container/build.sh - builds the cincy container image without a container
# engine or a base image to pull, and writes it as an OCI archive.
#
# The image has the same contents as container/Containerfile builds, in two layers:
#   1. Debian bookworm runtime: only the shared libraries cincy links and
#      ca-certificates (with what they depend on), unpacked by mmdebstrap from the
#      machine's own apt sources, with dpkg's records of every package kept in
#      /var/lib/dpkg so vulnerability scanners can list them;
#   2. cincy: /usr/bin/cincy, /usr/share/cincy/{web,graph-data,demo-releases},
#      /etc/cincy/cincy.yaml and the /var/lib/cincy volume.
# buildah (vfs driver, private storage under the output directory) commits them
# and writes <out>/cincy-image.tar; push it with
#   skopeo copy oci-archive:<out>/cincy-image.tar docker://REGISTRY/cincy:0.1.0
#
# Why mmdebstrap --variant=extract: every other variant installs dpkg, a shell
# and the Essential set (about 60 MiB) only to run maintainer scripts, and the
# chrootless mode runs those scripts on the build machine itself. Extract unpacks
# the packages and runs nothing; this script then writes what the maintainer
# scripts of these library packages would have left (dpkg's status, file lists
# and md5sums, the CA bundle). See container/README.md.
set -eu

usage() {
    cat <<'EOF'
usage: container/build.sh [options]

Builds the cincy container image (Release binary, web page, default config and,
unless told otherwise, the bundled demo data) and writes it as an OCI archive.

options:
  --out DIR             work and output directory (default: build-container/ in the
                        source tree); holds the Release build, the root file system,
                        the apt download cache, buildah's storage and the archive
  --build-dir DIR       use this already built, non-sanitized cincy build tree
                        instead of building one under DIR/cincy
  --with-demo-data      bundle config/graph-data and the generated release records
                        (default)
  --without-demo-data   leave the data out (the image then needs a mounted config)
  --source-url URL      org.opencontainers.image.source label (default: the git
                        remote "origin", else empty)
  --apt-sources FILE    Debian bookworm apt sources (sources.list or deb822) to build
                        the Debian layer from (default: the machine's own,
                        /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)
  -h, --help            this text

Needs root, cmake and the build dependencies (scripts/install-deps run), and
mmdebstrap and buildah (scripts/install-deps test installs them).
Writes DIR/cincy-image.tar (OCI archive, tags cincy:VERSION and cincy:latest) and
DIR/image-info (size, digest and tags as key=value lines for scripts).
EOF
}

die() {
    echo "container/build.sh: $*" >&2
    exit 1
}

# Step timing: each step prints how long it took, so CI logs show where time goes.
now() { date +%s.%N; }
since() { awk -v t0="$1" -v t1="$(now)" 'BEGIN { printf "%.1f", t1 - t0 }'; }
step_start() {
    step_name=$1
    step_t0=$(now)
    echo "== $step_name" >&2
}
step_end() {
    echo "== $step_name: $(since "$step_t0") s" >&2
}

root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/container/build.sh"

# ---- the extract hook: run by mmdebstrap as `build.sh --extract-hook ROOTFS CACHE` --------

# dpkg's database entry for one unpacked .deb: the control stanza with an
# "installed" status, the file list (only paths that exist, so path-excluded
# docs are not listed, as dpkg does) and the md5sums. Info files of
# Multi-Arch: same packages carry the architecture, as dpkg names them.
record_deb() {
    rootfs=$1 deb=$2
    admin="$rootfs/var/lib/dpkg"
    ctl=$(mktemp -d)
    dpkg-deb --control "$deb" "$ctl"
    field() { sed -n "s/^$1: *//p" "$ctl/control" | head -n 1; }
    name=$(field Package)
    if [ "$(field Multi-Arch)" = same ]; then
        name="$name:$(field Architecture)"
    fi
    {
        # Package first, then Status, as dpkg writes them, then the rest.
        grep '^Package:' "$ctl/control"
        echo "Status: install ok installed"
        grep -v '^Package:' "$ctl/control"
        if [ -s "$ctl/conffiles" ]; then
            echo "Conffiles:"
            while read -r f; do
                [ -f "$rootfs$f" ] && echo " $f $(md5sum <"$rootfs$f" | cut -d' ' -f1)"
            done <"$ctl/conffiles"
        fi
        echo
    } >>"$admin/status"
    [ -f "$ctl/md5sums" ] && cp "$ctl/md5sums" "$admin/info/$name.md5sums"
    [ -f "$ctl/conffiles" ] && cp "$ctl/conffiles" "$admin/info/$name.conffiles"
    rm -rf "$ctl"
    dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' -e 's|^$|/.|' |
        while read -r p; do
            if [ "$p" = /. ] || [ -e "$rootfs$p" ] || [ -L "$rootfs$p" ]; then
                echo "$p"
            fi
        done >"$admin/info/$name.list"
}

# ca-certificates' postinst: trust every certificate the package ships
# (/etc/ca-certificates.conf) and concatenate them into the bundle that
# OpenSSL, libcurl and libgit2 read (/etc/ssl/certs/ca-certificates.crt).
write_ca_bundle() {
    rootfs=$1
    (cd "$rootfs/usr/share/ca-certificates" && find . -name '*.crt' | sed 's|^\./||' | LC_ALL=C sort) \
        >"$rootfs/etc/ca-certificates.conf.list"
    {
        echo "# Written by container/build.sh as ca-certificates' postinst would: every"
        echo "# certificate the package ships is trusted."
        cat "$rootfs/etc/ca-certificates.conf.list"
    } >"$rootfs/etc/ca-certificates.conf"
    mkdir -p "$rootfs/etc/ssl/certs"
    while read -r crt; do
        cat "$rootfs/usr/share/ca-certificates/$crt"
    done <"$rootfs/etc/ca-certificates.conf.list" >"$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm "$rootfs/etc/ca-certificates.conf.list"
    [ -s "$rootfs/etc/ssl/certs/ca-certificates.crt" ] || die "no CA certificates in the image"
}

extract_hook() {
    rootfs=$1 cache=$2
    [ -n "${MMDEBSTRAP_ESSENTIAL:-}" ] || die "extract hook: MMDEBSTRAP_ESSENTIAL is empty"
    hook_t0=$(now)
    mkdir -p "$rootfs/var/lib/dpkg/info" "$cache"
    : >"$rootfs/var/lib/dpkg/status"
    echo 1 >"$rootfs/var/lib/dpkg/info/format" # info files named pkg:arch for Multi-Arch: same
    for rel in $MMDEBSTRAP_ESSENTIAL; do
        record_deb "$rootfs" "$rootfs$rel"
    done
    # Keep exactly this run's packages and package lists for the next run
    # (sync-in at setup): apt then downloads no .deb again, and its update
    # asks only whether the lists changed.
    mkdir -p "$cache/archives" "$cache/lists"
    rm -f "$cache"/archives/*.deb "$cache"/lists/*_*
    for rel in $MMDEBSTRAP_ESSENTIAL; do
        cp "$rootfs$rel" "$cache/archives/"
    done
    find "$rootfs/var/lib/apt/lists" -maxdepth 1 -type f -name '*_*' -exec cp -p {} "$cache/lists/" \;
    write_ca_bundle "$rootfs"
    echo "   extract hook: dpkg records, cache and CA bundle in $(since "$hook_t0") s" >&2
}

# The cincy layer's tree under DEST from a build tree; container/Containerfile
# runs the same (`build.sh --stage-cincy`), so both images hold the same files.
stage_cincy() { # stage_cincy DEST BUILD_DIR WITH_DEMO(0|1)
    dest=$1 bdir=$2
    rm -rf "$dest"
    mkdir -p "$dest/usr/bin" "$dest/usr/share/cincy" "$dest/etc/cincy" "$dest/var/lib/cincy"
    install -m 0755 "$bdir/cincy" "$dest/usr/bin/cincy"
    strip --strip-unneeded "$dest/usr/bin/cincy" 2>/dev/null || true
    install -m 0644 "$root/container/cincy.yaml" "$dest/etc/cincy/cincy.yaml"
    if [ -d "$bdir/web" ]; then
        cp -R "$bdir/web" "$dest/usr/share/cincy/web"
    else
        # No web bundle target in this tree: the page's static files as they are.
        mkdir -p "$dest/usr/share/cincy/web"
        find "$root/web" -maxdepth 1 -type f \( -name '*.html' -o -name '*.css' -o -name '*.js' \
            -o -name '*.svg' -o -name '*.png' -o -name '*.ico' -o -name '*.woff2' \) \
            -exec cp {} "$dest/usr/share/cincy/web/" \;
    fi
    if [ "$3" = 1 ]; then
        [ -f "$bdir/demo-releases/.stamp" ] ||
            die "$bdir/demo-releases: not generated (build the demo-data target)"
        cp -R "$root/config/graph-data" "$dest/usr/share/cincy/graph-data"
        cp -R "$bdir/demo-releases" "$dest/usr/share/cincy/demo-releases"
        rm -f "$dest/usr/share/cincy/demo-releases/.stamp"
    fi
    chown -R 0:0 "$dest"
    chmod -R u=rwX,go=rX "$dest/usr/share/cincy"
    # OpenShift runs the image as a random UID in group 0: the state volume is
    # group 0 and group-writable, so that UID can write it as well as 1001.
    chown 1001:0 "$dest/var/lib/cincy"
    chmod 0775 "$dest/var/lib/cincy"
}

if [ "${1:-}" = --extract-hook ]; then
    extract_hook "$2" "$3"
    exit 0
fi
if [ "${1:-}" = --stage-cincy ]; then
    [ $# -eq 4 ] || die "usage: build.sh --stage-cincy DEST BUILD_DIR 0|1"
    stage_cincy "$2" "$3" "$4"
    exit 0
fi

# ---- options ---------------------------------------------------------------------------

out="$root/build-container"
build_dir=""
demo=1
source_url=""
apt_sources=""
while [ $# -gt 0 ]; do
    case $1 in
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift ;;
    --build-dir) [ $# -ge 2 ] || die "--build-dir needs a directory"; build_dir=$2; shift ;;
    --with-demo-data) demo=1 ;;
    --without-demo-data) demo=0 ;;
    --source-url) [ $# -ge 2 ] || die "--source-url needs a URL"; source_url=$2; shift ;;
    --apt-sources) [ $# -ge 2 ] || die "--apt-sources needs a file"; apt_sources=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
    esac
    shift
done

[ "$(id -u)" -eq 0 ] || die "needs root: mmdebstrap writes a root-owned file system and buildah's
  storage is private to this build (run it with sudo)"
missing=""
for tool in mmdebstrap buildah dpkg-deb tar; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$build_dir" ] && ! command -v cmake >/dev/null 2>&1 && missing="$missing cmake"
[ -z "$missing" ] || die "missing:$missing (scripts/install-deps test installs them)"

mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(sed -n 's/^project(cincy VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
[ -n "$version" ] || die "CMakeLists.txt: no 'project(cincy VERSION x.y.z' line"
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
if [ -z "$source_url" ]; then
    source_url=$(git -C "$root" remote get-url origin 2>/dev/null || true)
fi
total_t0=$(now)

# ---- 1. cincy, Release, no tests --------------------------------------------------------

step_start "cincy Release build"
if [ -z "$build_dir" ]; then
    build_dir="$out/cincy"
    cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCINCY_TESTS=OFF \
        -DCINCY_SANITIZE=OFF >/dev/null
    cmake --build "$build_dir" -j"$(nproc)" >/dev/null
    # The web page bundle (target `web`, into <build>/web) when the tree has one.
    if cmake --build "$build_dir" --target help 2>/dev/null | grep -qE '(^|[ .])web(:|$)'; then
        cmake --build "$build_dir" --target web >/dev/null
    fi
fi
build_dir=$(cd "$build_dir" && pwd)
[ -x "$build_dir/cincy" ] || die "$build_dir/cincy: not built"
if grep -q '^CINCY_SANITIZE:BOOL=ON' "$build_dir/CMakeCache.txt" 2>/dev/null; then
    die "$build_dir is a sanitizer build (CINCY_SANITIZE=ON); the image needs a Release one"
fi
if [ "$demo" = 1 ] && [ ! -f "$build_dir/demo-releases/.stamp" ]; then
    die "$build_dir/demo-releases: not generated (build the demo-data target)"
fi
step_end

# ---- 2. the Debian layer -----------------------------------------------------------------

# The runtime libraries of the binary, by Debian package (what ldd finds, plus
# ca-certificates for TLS and base-files for /etc/os-release, which scanners
# read to know the distribution). Containerfile installs the same list.
runtime_pkgs="base-files ca-certificates libmicrohttpd12 libjansson4 libyaml-0-2 libssl3
  libcurl4 libgit2-1.5 libarchive13 zlib1g"
# The machine's own Debian sources (a local mirror in CI, say); other
# repositories in sources.list.d (nodesource, vendors) stay out of the image.
if [ -z "$apt_sources" ]; then
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        if [ -f "$f" ] && grep -qE '^(deb |URIs:)' "$f"; then
            apt_sources=$f
            break
        fi
    done
fi
[ -n "$apt_sources" ] || die "no Debian apt sources found: pass --apt-sources FILE"
[ -f "$apt_sources" ] || die "--apt-sources $apt_sources: no such file"
step_start "Debian runtime layer (mmdebstrap --variant=extract)"
rootfs="$out/rootfs"
cache="$out/apt-cache"
rm -rf "$rootfs"
mkdir -p "$cache/archives" "$cache/lists"
# dpkg path-excludes: no docs (copyright files stay), manuals, translations, and
# no iconv modules (gconv, 8 MiB of libc6): cincy never calls setlocale, so
# libarchive converts names only between ASCII and UTF-8, which glibc has built in.
mmdebstrap --variant=extract --mode=root --format=directory --quiet \
    --include="$(echo $runtime_pkgs | tr ' ' ',')" \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/usr/lib/*/gconv/*' \
    --setup-hook='mkdir -p "$1/var/cache/apt/archives" "$1/var/lib/apt/lists"' \
    --setup-hook="sync-in '$cache/archives' /var/cache/apt/archives/" \
    --setup-hook="sync-in '$cache/lists' /var/lib/apt/lists/" \
    --extract-hook="'$self' --extract-hook \"\$1\" '$cache'" \
    bookworm "$rootfs" "$apt_sources"
# No apt state and no host files (resolv.conf and hostname come from the
# container runtime): remove what mmdebstrap left there that no package ships.
(cd "$rootfs" && find etc/apt var/lib/apt var/cache/apt var/log/apt etc/resolv.conf \
    etc/hostname -depth 2>/dev/null) | while read -r p; do
    grep -qxF "/$p" "$rootfs"/var/lib/dpkg/info/*.list && continue
    if [ -d "$rootfs/$p" ] && [ ! -L "$rootfs/$p" ]; then
        rmdir "$rootfs/$p" 2>/dev/null || true
    else
        rm -f "$rootfs/$p"
    fi
done
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
cincy:x:1001:0:cincy:/var/lib/cincy:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chmod 1777 "$rootfs/tmp"
# Every library the binary links must come from a package in the layer.
# (dpkg -S knows each file by the path its package ships, /lib or /usr/lib.)
nlibs=0
for lib in $(ldd "$build_dir/cincy" | awk '$3 ~ /^\// {print $3}'); do
    real=$(readlink -f "$lib")
    owner=$( (dpkg -S "$real" || dpkg -S "${real#/usr}" || dpkg -S "$lib") 2>/dev/null | head -n 1)
    [ -n "$owner" ] || die "ldd $build_dir/cincy: $lib belongs to no Debian package"
    pkg=${owner%%:*}
    dpkg-query --admindir="$rootfs/var/lib/dpkg" -W "$pkg" >/dev/null 2>&1 ||
        die "the binary links $lib of $pkg, which is not in the image: add $pkg to runtime_pkgs"
    nlibs=$((nlibs + 1))
done
[ "$nlibs" -gt 0 ] || die "ldd $build_dir/cincy: no libraries found"
# dpkg's own check of the records written by the extract hook: every listed
# file present with its packaged checksum, no package half-installed.
verify=$(dpkg --root="$rootfs" --verify 2>&1; dpkg --root="$rootfs" --audit 2>&1)
[ -z "$verify" ] || die "dpkg records of $rootfs do not match its files:
$verify"
step_end

# ---- 3. the cincy layer -----------------------------------------------------------------

step_start "cincy layer"
app="$out/app"
stage_cincy "$app" "$build_dir" "$demo"
step_end

# ---- 4. commit with buildah ---------------------------------------------------------------

step_start "buildah commit"
storage="$out/storage"
bah() { buildah --root "$storage/root" --runroot "$storage/runroot" --storage-driver vfs "$@"; }
cleanup_storage() {
    if [ -d "$storage" ]; then
        bah rm --all >/dev/null 2>&1 || true
        bah rmi --all --force >/dev/null 2>&1 || true
        rm -rf "$storage"
    fi
}
cleanup_storage
trap cleanup_storage EXIT
trap 'exit 1' INT TERM

# Layer by layer: a container's file system is a plain directory with vfs.
add_layer() { # add_layer FROM TREE IMAGE -> commits IMAGE = FROM + TREE
    ctr=$(bah from --quiet --pull-never "$1")
    mnt=$(bah mount "$ctr")
    tar -C "$2" -cf - . | tar -C "$mnt" -xpf -
    bah umount "$ctr" >/dev/null
    layer_ctr=$ctr
}
add_layer scratch "$rootfs"
bah commit --quiet --format oci --rm "$layer_ctr" cincy-base:build >/dev/null
add_layer cincy-base:build "$app"
bah config \
    --os linux --arch "$(dpkg --print-architecture)" \
    --entrypoint '["cincy", "serve"]' \
    --cmd '["--config", "/etc/cincy/cincy.yaml"]' \
    --user 1001:0 \
    --workingdir /var/lib/cincy \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env HOME=/var/lib/cincy \
    --port 8080/tcp --port 9080/tcp \
    --volume /var/lib/cincy \
    --stop-signal SIGTERM \
    --label org.opencontainers.image.title=cincy \
    --label "org.opencontainers.image.description=OpenShift Update Service: a Cincinnati graph server" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$revision" \
    --label org.opencontainers.image.licenses=Apache-2.0 \
    --label "org.opencontainers.image.source=$source_url" \
    --label "io.cincy.demo-data=$([ "$demo" = 1 ] && echo true || echo false)" \
    "$layer_ctr"
bah commit --quiet --format oci --rm "$layer_ctr" "cincy:$version" >/dev/null
bah tag "cincy:$version" cincy:latest
bah rmi cincy-base:build >/dev/null
step_end

step_start "OCI archive"
archive="$out/cincy-image.tar"
rm -f "$archive"
bah push --quiet "cincy:$version" "oci-archive:$archive:cincy:$version"
step_end

# ---- 5. report -------------------------------------------------------------------------

# image-info is sourced by tests/container/run: values are double-quoted.
# Uncompressed size = the two layers as tar streams, which is what registries
# and `podman images` count; file contents alone are a little less.
tar_bytes() { tar -C "$1" -cf - . | wc -c; }
base_bytes=$(tar_bytes "$rootfs")
app_bytes=$(tar_bytes "$app")
total_bytes=$((base_bytes + app_bytes))
archive_bytes=$(wc -c <"$archive")
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
digest=$(bah inspect --type image --format '{{.FromImageDigest}}' "cincy:$version" 2>/dev/null || true)
{
    echo "version=\"$version\""
    echo "tags=\"cincy:$version cincy:latest\""
    echo "archive=\"$archive\""
    echo "digest=\"$digest\""
    echo "size_bytes=\"$total_bytes\""
    echo "size_mib=\"$(mib $total_bytes)\""
    echo "debian_layer_bytes=\"$base_bytes\""
    echo "cincy_layer_bytes=\"$app_bytes\""
    echo "archive_bytes=\"$archive_bytes\""
    echo "demo_data=\"$demo\""
} >"$out/image-info"

npkgs=$(dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f '${Package}\n' | wc -l)
cat <<EOF

image cincy:$version (also cincy:latest), $(mib $total_bytes) MiB uncompressed:
  Debian layer $(mib $base_bytes) MiB ($npkgs packages), cincy layer $(mib $app_bytes) MiB
  archive $archive: $(mib $archive_bytes) MiB (gzip layers)
biggest packages (KiB installed, before path-excludes):
EOF
dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f '${Installed-Size}\t${Package}\n' |
    sort -rn | head -n 10 | sed 's/^/  /'
if [ -n "$(ls -A "$app/usr/share/cincy" 2>/dev/null)" ]; then
    echo "cincy layer (KiB):"
    du -sk "$app/usr/bin/cincy" "$app/usr/share/cincy"/* | sed "s|$app||; s/^/  /"
fi
echo "built in $(since "$total_t0") s; push it with:"
echo "  skopeo copy oci-archive:$archive docker://REGISTRY/cincy:$version"
