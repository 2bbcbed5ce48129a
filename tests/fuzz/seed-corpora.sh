#!/bin/sh
# tests/fuzz/seed-corpora.sh - (re)builds the seed corpora of tests/fuzz/corpus
# from the real graph-data in ../shared/data and the tests' fixtures, then
# minimises each with libFuzzer's -merge=1 (needs the fuzz build:
# bench/fuzz.sh builds it). Run it only to start a corpus over: fuzzing adds
# entries to the corpora, and crash-* regression entries must be kept.
#   tests/fuzz/seed-corpora.sh [TARGET...]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${CINCY_FUZZ_BUILD:-$root/build-fuzz}
data=${CINCY_SHARED_DATA:-$root/../shared/data}
seeds=$(mktemp -d /tmp/cincy-seeds-XXXXXX)
trap 'rm -rf "$seeds"' EXIT
gd=$data/graph-data

n=0
put() { # put TARGET FILE: copies FILE as a seed of TARGET
    mkdir -p "$seeds/$1"
    n=$((n + 1))
    cp "$2" "$seeds/$1/seed-$n"
}
put_text() { # put_text TARGET TEXT
    mkdir -p "$seeds/$1"
    n=$((n + 1))
    printf '%s' "$2" >"$seeds/$1/seed-$n"
}

# version: real versions, three to an input (the harness compares them).
ls "$gd/channels" >/dev/null
grep -h '^- ' "$gd"/channels/*.yaml | sed 's/^- //' | sort -u | awk 'NR % 7 == 0' | head -n 300 |
    paste -d '\n' - - - | split -l 3 - "$seeds/v-" 2>/dev/null || true
mkdir -p "$seeds/version"
for f in "$seeds"/v-*; do [ -f "$f" ] && mv "$f" "$seeds/version/"; done
for v in '1.0.0-alpha' '1.0.0-alpha.1' '1.0.0-0.3.7' '1.0.0-x.7.z.92' '1.0.0+20130313144700' \
    '1.0.0-beta+exp.sha.5114f85' ' 4.16.3 ' '01.2.3' '4.16' 'v4.16.3' '18446744073709551615.0.0' \
    '18446744073709551616.0.0' '1.0.0-' '1.0.0+' '1.0.0-a..b'; do
    put_text version "$v
4.16.3
1.0.0-rc.1"
done

# channel and block: real files (a spread of sizes) and the fixtures.
for f in $(ls -S "$gd"/channels/*.yaml | awk 'NR % 4 == 0'); do put channel "$f"; done
for f in "$root"/tests/data/check/*/data/channels/* "$root"/tests/data/ingest/*/channels/* \
    "$root"/tests/data/ingest/invalid/channel-*/channels/*; do
    [ -f "$f" ] && put channel "$f"
done
for f in $(ls "$gd"/blocked-edges/*.yaml | awk 'NR % 40 == 0'); do put block "$f"; done
for f in "$root"/tests/data/check/*/data/blocked-edges/* "$root"/tests/data/ingest/*/blocked-edges/* \
    "$root"/tests/data/ingest/invalid/block-*/blocked-edges/*; do
    [ -f "$f" ] && put block "$f"
done

# raw/metadata.json and the graph-data version file.
for f in "$gd/raw/metadata.json" $(find "$root/tests/data" -path '*raw/metadata.json'); do put raw_metadata "$f"; done
put gd_version "$gd/version"
for v in '1.0.0' '1.1.0
' ' 1.2.0-rc.1 ' '2.0.0' '1.0' ''; do put_text gd_version "$v"; done

# release-metadata documents.
for f in $(find "$root/tests/data" -name release-metadata | head -20); do put release_metadata "$f"; done

# server configs.
put config "$root/config/cincy.yaml"
for f in $(find "$root/tests/data" "$root/docs" -name '*.yaml' -path '*conf*' 2>/dev/null | head -10); do put config "$f"; done

# dockercfg: pull secrets (auth as base64, username/password, no match).
put_text dockercfg '{"auths":{"quay.io":{"auth":"dXNlcjpwYXNz","email":"a@b"},"registry.example:8443/a":{"username":"u","password":"p"}}}'
put_text dockercfg '{"auths":{"https://quay.io/openshift-release-dev/":{"auth":"Y2luY3k6czNjcmV0"},"127.0.0.1:5000":{"auth":"Zm9vOg=="}}}'
put_text dockercfg '@http://127.0.0.1:5000/ns/repo
{"auths":{"127.0.0.1:5000/ns":{"auth":"YTpi"}}}'
put_text dockercfg '{"auths":{"quay.io":{"auth":"!!!"}}}'
put_text dockercfg '{"auths":[]}'

# tar: the graph-data fixture as tar.gz with and without a top directory,
# plain tar, xz, and hostile entries (.., absolute, symlink, hardlink).
python3 - "$root/tests/data/ingest/graph-data-small" "$seeds/tar" <<'PY'
import io, os, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
def make(name, mode, top, extra=()):
    with tarfile.open(os.path.join(out, name), mode) as t:
        t.add(src, arcname=top, recursive=True)
        for info, data in extra:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
def reg(name, data):
    i = tarfile.TarInfo(name); i.size = len(data); return (i, data)
def link(name, target, kind):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target; return (i, None)
make("top.tar.gz", "w:gz", "cincinnati-graph-data-0123abc")
make("flat.tar.gz", "w:gz", ".")
make("plain.tar", "w", "gd")
make("xz.tar.xz", "w:xz", ".")
make("dotdot.tar.gz", "w:gz", ".", [reg("../evil", b"x")])
make("abs.tar.gz", "w:gz", ".", [reg("/etc/evil", b"x")])
make("symlink.tar.gz", "w:gz", ".", [link("channels/link.yaml", "/etc/passwd", tarfile.SYMTYPE)])
make("hardlink.tar.gz", "w:gz", ".", [link("raw/hl", "/etc/passwd", tarfile.LNKTYPE)])
PY

put_text config 'graph:
  address: "::1"
  port: 0
  path_prefix: //a/b//
  threads: 2
status:
  port: 9081
  refresh_token: s3cret
log_level: debug
sources:
  poll_seconds: 5
  allow_channel_removal: true
  releases:
    directory: rel
    registry: [quay.io/openshift-release-dev/ocp-release, "http://127.0.0.1:5000/x"]
  graph_data:
    git:
      url: https://github.com/openshift/cincinnati-graph-data
      branch: master
registry:
  auth_file: /run/secrets/pull.json
  insecure: false
  concurrency: 4
'
put_text config 'sources:
  graph_data:
    tarball: https://example.invalid/gd.tar.gz
  upstream:
    url: https://api.openshift.com/api/upgrades_info/v1/graph
    channels: [stable-4.16, fast-4.16]
    arches: amd64
'
put_text config 'sources:
  graph_data:
    image: quay.io/openshift/graph-data@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
'
put_text config 'web:
  directory: ~
graph: {port: 70000}
'

# manifest: Docker schema 2 / OCI manifests, lists and indexes, with a config
# blob and a layer (plain tar and tar.gz) holding release-metadata.
python3 - "$seeds/manifest" <<'PY'
import gzip, io, json, os, sys, tarfile
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
meta = json.dumps({"kind": "cincinnati-metadata-v0", "version": "4.16.3",
                   "previous": ["4.16.1", "4.16.2"], "metadata": {"url": "https://access.redhat.com/errata/x"}}).encode()
def layer(gz):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in (("release-manifests/image-references", b"{}"), ("release-manifests/release-metadata", meta)):
            i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
    return gzip.compress(b.getvalue(), mtime=0) if gz else b.getvalue()
D2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI = "application/vnd.oci.image.manifest.v1+json"
def image(mt, size):
    return json.dumps({"schemaVersion": 2, "mediaType": mt,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 30, "digest": "@CONFIG@"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": size, "digest": "@LAYER@"}]})
def index(mt, n):
    ms = [{"mediaType": D2, "size": 500, "digest": "@CHILD@", "platform": {"architecture": a, "os": "linux"}}
          for a in ["amd64", "arm64", "s390x"][:n]]
    return json.dumps({"schemaVersion": 2, "mediaType": mt, "manifests": ms})
config = b'{"architecture":"amd64","os":"linux"}'
def write(name, top, ctype, child, lay):
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"\n@@@\n".join([top.encode(), ctype.encode(), child.encode(), config, lay]))
gz, plain = layer(True), layer(False)
write("d2-gz", image(D2, len(gz)), D2, "", gz)
write("oci-plain", image(OCI, len(plain)), OCI, "", plain)
write("list-1", index("application/vnd.docker.distribution.manifest.list.v2+json", 1), "", image(D2, len(gz)), gz)
write("index-3", index("application/vnd.oci.image.index.v1+json", 3), "", image(OCI, len(plain)), plain)
write("index-nomt", json.dumps({"schemaVersion": 2, "manifests": [{"digest": "@CHILD@"}]}), "", image(D2, len(gz)), gz)
write("no-meta", image(D2, 10), D2, "", b"")
PY

# www_auth: Bearer and Basic challenges with token answers.
put_text www_auth 'Bearer realm="@REALM@",service="registry.example",scope="repository:fuzz/release:pull"
@@@
{"token":"abc.def.ghi","expires_in":300}'
put_text www_auth 'bearer realm=@REALM@, service=reg
@@@
{"access_token":"tok","expires_in":-5}'
put_text www_auth 'Bearer realm="@REALM@?a=b",scope="repository:fuzz/release:pull,push"
@@@
{"token":""}'
put_text www_auth 'Basic realm="Registry Realm"
@@@
'
put_text www_auth 'Bearer realm="https://auth.example.invalid/token"
@@@
{"token":"x"}'
put_text www_auth 'Negotiate
@@@
'

# upstream bodies: what cincy serves for the policy fixture.
if [ -x "$root/build/cincy" ] || [ -x "$build/cincy" ]; then
    bin=$root/build/cincy
    [ -x "$bin" ] || bin=$build/cincy
    port=$((20000 + $$ % 20000))
    "$bin" serve --graph-data "$root/tests/data/policy/small/graph-data" \
        --releases "$root/tests/data/policy/small/releases" --graph-port $port \
        --status-port $((port + 1)) --log-level error &
    pid=$!
    sleep 2
    for ch in $(ls "$root/tests/data/policy/small/graph-data/channels" | sed 's/\.yaml$//'); do
        for arch in amd64 arm64 multi; do
            curl -sf "http://127.0.0.1:$port/api/upgrades_info/v1/graph?channel=$ch&arch=$arch" \
                >"$seeds/up-$ch-$arch" || true
            [ -s "$seeds/up-$ch-$arch" ] && put upstream "$seeds/up-$ch-$arch"
        done
    done
    kill "$pid"
fi

# Minimise each into tests/fuzz/corpus/<target>, keeping crash-* entries.
targets=${*:-$(ls "$seeds" | grep -v -e '^v-' -e '^up-')}
for t in $targets; do
    [ -d "$seeds/$t" ] || continue
    [ -x "$build/fuzz-$t" ] || { echo "no $build/fuzz-$t: build it first" >&2; exit 1; }
    out=$root/tests/fuzz/corpus/$t
    mkdir -p "$out"
    echo "$t: $(ls "$seeds/$t" | wc -l) seeds" >&2
    # From the scratch directory: a seed that crashes is written to the cwd.
    (cd "$seeds" && "$build/fuzz-$t" -merge=1 "$out" "$seeds/$t" >"$seeds/$t.log" 2>&1) || { tail -n 30 "$seeds/$t.log" >&2; exit 1; }
    grep -E 'MERGE-OUTER: [0-9]+ new' "$seeds/$t.log" >&2 || true
done
