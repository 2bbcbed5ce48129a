#!/bin/bash
# bench/fuzz.sh - fuzz cincy's parsers for real (tests/fuzz/README.md).
#
#   bench/fuzz.sh [--afl] [TARGET[,TARGET...]|all] [SECONDS]
#
# Builds the fuzz tree if needed (clang, -DCINCY_FUZZ=ON, in build-fuzz/; with
# --afl afl-clang-fast in build-fuzz-afl/), then fuzzes each target for
# SECONDS (default 60) on a copy of its corpus (tests/fuzz/corpus/TARGET), and
# prints per target executions, exec/s, coverage (cov/ft), new corpus entries,
# crashes (saved under BUILD/fuzz-work/TARGET/artifacts) and CPU seconds, then
# a table. Environment:
#   JOBS=N      targets fuzzed at once (default 1)
#   NICE=N      niceness (default 10, so builds and tests still get the CPU)
#   TIMEOUT=N   seconds one input may take before it counts as a hang (25;
#               on a loaded machine a short limit reports the load)
#   MERGE=1     merge what was found back into tests/fuzz/corpus (-merge=1)
#   CPU=N       stop each target after N CPU seconds (SECONDS still caps the
#               wall time): fair figures on a machine others are using
#   CINCY_FUZZ_BUILD=DIR   the build tree to use
# Exit status: 1 when any target crashed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
afl=0
if [ "${1:-}" = "--afl" ]; then
    afl=1
    shift
fi
target=${1:-all}
seconds=${2:-60}
nice_n=${NICE:-10}
jobs=${JOBS:-1}
if [ $afl = 1 ]; then
    build=${CINCY_FUZZ_BUILD:-$root/build-fuzz-afl}
    cc=afl-clang-fast
else
    build=${CINCY_FUZZ_BUILD:-$root/build-fuzz}
    cc=clang
fi

targets() {
    ls "$root"/tests/fuzz/targets/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||'
}

build_tree() {
    command -v "$cc" >/dev/null || { echo "fuzz.sh: $cc not found (apt-get install clang afl++)" >&2; exit 2; }
    if [ ! -f "$build/CMakeCache.txt" ]; then
        CC=$cc cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCINCY_FUZZ=ON \
            -DCINCY_TESTS=OFF >/dev/null
    fi
    local want=()
    for t in $list; do want+=("fuzz-$t"); done
    if ! nice -n "$nice_n" cmake --build "$build" -j"$(nproc)" --target "${want[@]}" >"$build/fuzz-build.log" 2>&1; then
        # A tree being edited may not build; fuzz the binaries there are.
        grep -m5 'error' "$build/fuzz-build.log" >&2 || true
        echo "fuzz.sh: build failed (log: $build/fuzz-build.log); using existing binaries" >&2
    fi
}

# run_libfuzzer TARGET: fuzzes, writes BUILD/fuzz-work/TARGET/result (one line).
run_libfuzzer() {
    local t=$1 w=$build/fuzz-work/$1 before after cpu
    rm -rf "$w"
    mkdir -p "$w/corpus" "$w/artifacts"
    cp "$root/tests/fuzz/corpus/$t/"* "$w/corpus/" 2>/dev/null || true
    before=$(ls "$w/corpus" | wc -l)
    local dict=()
    [ -f "$root/tests/fuzz/dict/$t.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$t.dict")
    (cd "$w" && exec /usr/bin/time -f '%U %S' -o cpu nice -n "$nice_n" "$build/fuzz-$t" \
        -max_total_time="$seconds" -timeout="${TIMEOUT:-25}" -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix=artifacts/ "${dict[@]}" corpus >log 2>&1) &
    local tpid=$! fpid="" used
    if [ -n "${CPU:-}" ]; then
        # CPU budget: on a busy machine wall time says little; stop the
        # fuzzer (SIGINT: it prints its final stats) once it used CPU seconds.
        while kill -0 "$tpid" 2>/dev/null; do
            sleep 5
            # || true: under set -e a pid that just ended must not end us.
            [ -n "$fpid" ] || fpid=$(pgrep -P "$tpid" | head -n 1 || true)
            [ -n "$fpid" ] || continue
            used=$(ps -o times= -p "$fpid" 2>/dev/null | tr -d ' ' || true)
            if [ -n "$used" ] && [ "$used" -ge "$CPU" ]; then
                kill -INT "$fpid" 2>/dev/null || true
                break
            fi
        done
    fi
    wait "$tpid" || true
    after=$(ls "$w/corpus" | wc -l)
    cpu=$(awk '{printf "%.0f", $1 + $2}' "$w/cpu" 2>/dev/null || echo 0)
    awk -v t="$t" -v new=$((after - before)) -v crashes="$(ls "$w/artifacts" | grep -vc "^slow-unit-")" -v cpu="$cpu" '
        /stat::number_of_executed_units/ { execs = $2 }
        /stat::average_exec_per_sec/ { eps = $2 }
        / cov: / { for (i = 1; i < NF; i++) { if ($i == "cov:") cov = $(i + 1); if ($i == "ft:") ft = $(i + 1) } }
        END { printf "%s %d %d %d %s %s %d %d\n", t, cpu, execs, eps, cov, ft, new, crashes }
    ' "$w/log" >"$w/result"
    if [ "${MERGE:-0}" = 1 ]; then
        (cd "$w" && "$build/fuzz-$t" -merge=1 "$root/tests/fuzz/corpus/$t" corpus >merge.log 2>&1) || true
    fi
}

# run_afl TARGET: afl-fuzz for SECONDS, result from fuzzer_stats.
run_afl() {
    local t=$1 w=$build/fuzz-work/$1 cpu
    rm -rf "$w"
    mkdir -p "$w/in"
    cp "$root/tests/fuzz/corpus/$t/"* "$w/in/" 2>/dev/null || echo x >"$w/in/seed"
    (cd "$w" && AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
        /usr/bin/time -f '%U %S' -o cpu nice -n "$nice_n" afl-fuzz -V "$seconds" -i in -o out \
        -t 10000 -m none -- "$build/fuzz-$t" >log 2>&1) || true
    cpu=$(awk '{printf "%.0f", $1 + $2}' "$w/cpu" 2>/dev/null || echo 0)
    awk -v t="$t" -v cpu="$cpu" -F': *' '
        $1 ~ /execs_done/ { execs = $2 } $1 ~ /execs_per_sec/ { eps = $2 }
        $1 ~ /bitmap_cvg/ { cov = $2 } $1 ~ /corpus_count/ { ft = $2 }
        $1 ~ /corpus_found/ { new = $2 } $1 ~ /saved_crashes|unique_crashes/ { crashes = $2 }
        END { printf "%s %d %d %d %s %s %d %d\n", t, cpu, execs, eps, cov, ft, new, crashes }
    ' "$w"/out/default/fuzzer_stats >"$w/result" 2>/dev/null || echo "$t $cpu 0 0 - - 0 0" >"$w/result"
}

report() {
    local t=$1
    read -r name cpu execs eps cov ft new crashes <"$build/fuzz-work/$t/result"
    printf '%s: %s executions, %s exec/s, cov %s, ft %s, %s new corpus entries, %s crashes, %s CPU s\n' \
        "$name" "$execs" "$eps" "$cov" "$ft" "$new" "$crashes" "$cpu" >&2
    [ "$crashes" = 0 ] || ls "$build/fuzz-work/$t/artifacts" "$build/fuzz-work/$t/out/default/crashes" 2>/dev/null | sed 's/^/    /' >&2
}

if [ "$target" = all ]; then
    list=$(targets)
else
    list=$(echo "$target" | tr ',' ' ')
    for t in $list; do
        [ -f "$root/tests/fuzz/targets/fuzz_$t.c" ] || { echo "fuzz.sh: no target '$t' (have: $(targets | tr '\n' ' '))" >&2; exit 2; }
    done
fi
build_tree
echo "fuzzing $(echo $list | wc -w) target(s) for ${seconds}s each, $jobs at a time, nice $nice_n, in $build" >&2

running=0
for t in $list; do
    if [ $afl = 1 ]; then run_afl "$t" & else run_libfuzzer "$t" & fi
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

status=0
for t in $list; do
    report "$t"
done
printf '\n%-18s %8s %12s %8s %8s %8s %6s %8s\n' target cpu_s executions exec/s cov ft new crashes
for t in $list; do
    read -r name cpu execs eps cov ft new crashes <"$build/fuzz-work/$t/result"
    printf '%-18s %8s %12s %8s %8s %8s %6s %8s\n' "$name" "$cpu" "$execs" "$eps" "$cov" "$ft" "$new" "$crashes"
    [ "$crashes" = 0 ] || status=1
done
exit $status
