#!/bin/bash
# bench/soak.sh - a bounded soak: full request rate against a graph swapped
# every few seconds, watching cincy's RSS and open file descriptors for growth.
#
# A Release cincy serves the bundled graph-data (a copy in a temp dir) and the
# demo release records. wrk asks for a few channels at full rate for
# SOAK_SECONDS; meanwhile every SWAP_SECONDS the copy's stable-4.16 channel
# file alternates between its full list and the list without its newest
# version, and POST /refresh makes cincy load it, so snapshots, caches and
# views are built and dropped hundreds of times. Every SAMPLE_SECONDS the
# script samples VmRSS (/proc/PID/status) and the open fds (/proc/PID/fd).
#
# At the end it prints the samples, the least-squares slope of RSS (KiB/min)
# and of fds (per minute) over the second half of the run (the first half is
# warm-up: caches, the allocator's arenas and wrk's connections settle), and
# exits 1 when a slope is above its threshold.
#
# Settings (environment, defaults in brackets):
#   SOAK_SECONDS [600]        length of the run
#   SWAP_SECONDS [3]          graph swap + POST /refresh period
#   SAMPLE_SECONDS [5]        RSS/fd sampling period
#   CONNECTIONS [50]          wrk connections; THREADS [2] wrk threads
#   MAX_RSS_SLOPE_KIB [1024]  fail above this RSS growth, KiB per minute
#   MAX_FD_SLOPE [1]          fail above this fd growth, per minute
#   CINCY_BIN                 a cincy binary to use instead of building one
#   RELEASES                  its release records [dir of CINCY_BIN/demo-releases]
#   BUILD_DIR [build-bench]   where cincy is built (Release) when no CINCY_BIN
#   KEEP_TMP=1                keep the temp dir (config, log, samples)
# Loopback only; everything started is stopped on exit.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
SOAK_SECONDS=${SOAK_SECONDS:-600}
SWAP_SECONDS=${SWAP_SECONDS:-3}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-5}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
MAX_RSS_SLOPE_KIB=${MAX_RSS_SLOPE_KIB:-1024}
MAX_FD_SLOPE=${MAX_FD_SLOPE:-1}
BUILD_DIR=${BUILD_DIR:-$root/build-bench}
CINCY_BIN=${CINCY_BIN:-}

command -v wrk >/dev/null || { echo "soak: wrk not found (apt-get install wrk)" >&2; exit 2; }
if [ -z "$CINCY_BIN" ]; then
    cmake -S "$root" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD_DIR" -j2 --target cincy demo-data >/dev/null 2>&1 ||
        cmake --build "$BUILD_DIR" -j2 >/dev/null
    CINCY_BIN=$BUILD_DIR/cincy
fi
RELEASES=${RELEASES:-$(dirname "$CINCY_BIN")/demo-releases}
[ -d "$RELEASES" ] || { echo "soak: no release records at $RELEASES" >&2; exit 2; }
RELEASES=$(cd "$RELEASES" && pwd) # the config resolves relative paths against its own dir

tmp=$(mktemp -d /tmp/cincy-soak.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP_TMP:-0}" = 1 ] && echo "soak: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
gport=$(free_port)
sport=$(free_port)
cp -r "$root/config/graph-data" "$tmp/graph-data"
chan=$tmp/graph-data/channels/stable-4.16.yaml
cp "$chan" "$tmp/full.yaml"
# the same channel without its last listed version: a real change of graph
awk '/^- /{last=NR} {line[NR]=$0} END {for (i=1;i<=NR;i++) if (i!=last) print line[i]}' \
    "$tmp/full.yaml" >"$tmp/short.yaml"
cmp -s "$tmp/full.yaml" "$tmp/short.yaml" && { echo "soak: cannot shorten $chan" >&2; exit 2; }
cat >"$tmp/cincy.yaml" <<EOF
log_level: warn
graph: {address: 127.0.0.1, port: $gport}
status: {address: 127.0.0.1, port: $sport}
sources:
  poll_seconds: 86400
  graph_data: {directory: $tmp/graph-data}
  releases: {directory: $RELEASES}
EOF
"$CINCY_BIN" serve --config "$tmp/cincy.yaml" >"$tmp/cincy.log" 2>&1 &
pid=$!
pids+=("$pid")
for _ in $(seq 900); do # up to 3 minutes
    curl -sf "http://127.0.0.1:$sport/readiness" >/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/cincy.log"; exit 1; }
    sleep 0.2
done
curl -sf "http://127.0.0.1:$sport/readiness" >/dev/null || { echo "soak: cincy not ready" >&2; exit 1; }

cat >"$tmp/paths.lua" <<'EOF'
local paths = {
  "/api/upgrades_info/v1/graph?channel=stable-4.16",
  "/api/upgrades_info/v1/graph?channel=fast-4.17&arch=arm64",
  "/api/upgrades_info/v1/graph?channel=eus-4.16",
  "/api/upgrades_info/graph?channel=candidate-4.18",
}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], {["Accept"] = "application/json"})
end
EOF
echo "soak: ${SOAK_SECONDS}s, wrk -t$THREADS -c$CONNECTIONS, graph swapped every ${SWAP_SECONDS}s, pid $pid"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SOAK_SECONDS}s" -s "$tmp/paths.lua" \
    "http://127.0.0.1:$gport" >"$tmp/wrk.out" 2>&1 &
pids+=("$!")

swapper() {
    local n=0
    while :; do
        sleep "$SWAP_SECONDS"
        if [ $((n % 2)) = 0 ]; then cp "$tmp/short.yaml" "$chan"; else cp "$tmp/full.yaml" "$chan"; fi
        curl -sf -X POST "http://127.0.0.1:$sport/refresh" >/dev/null || true
        n=$((n + 1))
    done
}
swapper &
pids+=("$!")

start=$(date +%s)
: >"$tmp/samples"
printf '%8s %10s %6s\n' seconds rss_kib fds
while [ $(($(date +%s) - start)) -lt "$SOAK_SECONDS" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "soak: cincy died" >&2; tail "$tmp/cincy.log"; exit 1; }
    t=$(($(date +%s) - start))
    rss=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")
    fds=$(ls "/proc/$pid/fd" | wc -l)
    printf '%8d %10d %6d\n' "$t" "$rss" "$fds" | tee -a "$tmp/samples"
    sleep "$SAMPLE_SECONDS"
done
sleep 1
grep -E "Requests/sec|requests in|Non-2xx|Socket errors" "$tmp/wrk.out" || cat "$tmp/wrk.out"
loads=$(curl -sf "http://127.0.0.1:$sport/metrics" | awk '/^cincy_graph_loads_total /{print $2}')
echo "graph loads during the run: $loads"

# least-squares slope per minute of column $2 over the second half
slope() {
    awk -v col="$1" -v from="$2" '$1 >= from {
        n++; x=$1/60; y=$col; sx+=x; sy+=y; sxx+=x*x; sxy+=x*y }
        END { d = n*sxx - sx*sx; if (n < 3 || d == 0) print 0; else printf "%.1f\n", (n*sxy - sx*sy)/d }' \
        "$tmp/samples"
}
half=$((SOAK_SECONDS / 2))
rss_slope=$(slope 2 "$half")
fd_slope=$(slope 3 "$half")
echo "second half (from ${half}s): RSS slope ${rss_slope} KiB/min (max ${MAX_RSS_SLOPE_KIB}), fd slope ${fd_slope}/min (max ${MAX_FD_SLOPE})"
fail=0
awk -v s="$rss_slope" -v m="$MAX_RSS_SLOPE_KIB" 'BEGIN{exit !(s > m)}' && { echo "soak: FAIL: RSS grows"; fail=1; }
awk -v s="$fd_slope" -v m="$MAX_FD_SLOPE" 'BEGIN{exit !(s > m)}' && { echo "soak: FAIL: fds grow"; fail=1; }
[ "$fail" = 0 ] && echo "soak: ok"
exit "$fail"
