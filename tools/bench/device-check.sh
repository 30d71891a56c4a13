#!/usr/bin/env bash
# The GPU checklist in one call on a lent device machine (no meson, no apt
# needed there): every test program of a build made on the development
# machine, the gpu suite on the real device, bench_gpu and the peers.
# Logs go to $OUT (the device tool's return folder).
#
#   tools/bench/device-check.sh BUILD [COMMIT] [REPS] [SHRINK]
#
# BUILD was set up here with tools/bench/README.md's recipe (release,
# deplibs/ holding libcjson and libcmocka). REPS and SHRINK go to
# bench_gpu (51 and 0 on a device); bench_runpath times the whole run
# against the kernel. CUBIE_DEVICE_CHECK_UNIT=0 and
# CUBIE_DEVICE_CHECK_PEERS=0 leave out the host-only and emulated test
# programs and the peers; CUBIE_ORIGINAL=DIR also times the Python
# original from its carried source (tools/bench/original.sh).
# CUBIE_DEVICE_CHECK_EMULATE=1 runs the gpu suite and bench_gpu under
# the emulated driver: a dry run of this
# script on a machine without a GPU.
set -u -o pipefail
build=${1:?usage: device-check.sh BUILD [COMMIT] [REPS] [SHRINK]}
commit=${2:-unknown}
reps=${3:-51}
shrink=${4:-0}
build=$(cd "$build" && pwd) || { echo "device-check: no build folder $1" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
out=${OUT:-$root/device-out}
export PATH="$PATH:/usr/local/cuda/bin"
mkdir -p "$out"
export LD_LIBRARY_PATH="$build/deplibs:$build:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CUBIE_CACHE_DIR=${CUBIE_CACHE_DIR:-/tmp/cubie-device-cache}
export CUBIE_SPECS=$root/specs CUBIE_GOLDEN=$root/tests/golden
export CUBIE_EXE=$build/cubie CMOCKA_MESSAGE_OUTPUT=stdout
fake=$build/tests/libcubie-fakecuda.so
device_preload=
if [ "${CUBIE_DEVICE_CHECK_EMULATE:-0}" = 1 ]; then
    device_preload=$fake
fi

{
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "commit: $commit"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -2
    (nvcc --version 2>/dev/null || echo "nvcc: none") | tail -1
    (${CC:-cc} --version 2>/dev/null || echo "cc: none") | head -1
    (${CXX:-c++} --version 2>/dev/null || echo "c++: none") | head -1
    (compute-sanitizer --version 2>/dev/null || echo "compute-sanitizer: none") | tail -1
    echo "cpus: $(nproc)"
} > "$out/env.txt"
cat "$out/env.txt"

# name, program, preload: the meson test list (tests/meson.build).
tests="registry expr tableaus implicit_tableaus spec numerics adaptive codegen
cli cuda deriv implicit golden"
pass=0 fail=0 skip=0
run_test() { # name program preload [arguments...]
    local name=$1 prog=$2 pre=$3 rc
    shift 3
    local t0=$SECONDS
    if [ -n "$pre" ]; then
        LD_PRELOAD=$pre timeout 600 "$prog" "$@" > "$out/test-$name.log" 2>&1
    else
        timeout 600 "$prog" "$@" > "$out/test-$name.log" 2>&1
    fi
    rc=$?
    case $rc in
    0) pass=$((pass + 1)); verdict=OK ;;
    77) skip=$((skip + 1)); verdict=SKIP ;;
    *) fail=$((fail + 1)); verdict="FAIL ($rc)" ;;
    esac
    printf '%-18s %-9s %4ss\n' "$name" "$verdict" $((SECONDS - t0))
}
# CUBIE_DEVICE_CHECK_UNIT=0 skips the host-only unit programs and the
# emulated ones (they test what the development machine tests), to spend
# scarce device time on the device.
if [ "${CUBIE_DEVICE_CHECK_UNIT:-1}" = 1 ]; then
    for t in $tests; do
        run_test "$t" "$build/tests/test_$t" ""
    done
    run_test api_example "$build/api_example" ""
fi
run_test gpu "$build/tests/test_gpu" "$device_preload"
if [ "$verdict" = SKIP ] && [ -z "$device_preload" ]; then
    # Here the point is the device: no usable device is a failure.
    skip=$((skip - 1)) fail=$((fail + 1))
    echo "gpu: skipped (no usable device), counted as a failure"
fi
# The emulated device compiles kernels as C++, with a cache of its own (a
# kernel cached by a plain run was never seen by it).
if [ "${CUBIE_DEVICE_CHECK_UNIT:-1}" != 1 ]; then
    :
elif command -v "${CXX:-c++}" > /dev/null; then
    CUBIE_CACHE_DIR=$CUBIE_CACHE_DIR-emulated \
    CUBIE_FAKE_CUDA_CFLAGS=-ffp-contract=off \
        run_test gpu-emulated "$build/tests/test_gpu" "$fake"
    CUBIE_CACHE_DIR=$CUBIE_CACHE_DIR-emulated \
    CC="${CC:-cc} -ffp-contract=off" CXX="${CXX:-c++} -ffp-contract=off" \
        run_test emulated "$build/tests/test_emulated" "$fake"
else
    skip=$((skip + 2))
    echo "gpu-emulated, emulated: skipped (no C++ compiler)"
fi
# compute-sanitizer on the real device: out-of-bounds and misaligned
# accesses (memcheck, with buffers in shared memory too) and reads of
# uninitialised device memory (initcheck), on small batches.
sanitize() { # name tool cubie-run-arguments...
    local name=$1 tool=$2
    shift 2
    if [ -n "$device_preload" ]; then
        return
    fi
    if ! command -v compute-sanitizer > /dev/null; then
        skip=$((skip + 1))
        printf '%-18s %-9s\n' "$name" "SKIP (no compute-sanitizer)"
        return
    fi
    run_test "$name" compute-sanitizer "" --tool "$tool" --error-exitcode 3 \
        "$build/cubie" run "$@" --set backend=cuda --out "/tmp/cubie-$name"
}
sanitize memcheck-tsit5 memcheck specs/lorenz.json --set algorithm=tsit5 \
    --set step_controller=pi --grid rho=0:28:300
sanitize memcheck-radau-shared memcheck specs/hires.json \
    --set algorithm=radau_iia_5 --set precision=float64 \
    --set state_location=shared --set stage_increment_location=shared \
    --set delta_location=shared --set lin_residual_location=shared \
    --set preconditioner_type=jacobi --set linear_correction_type=bicgstab \
    --grid y1=0.5:1.5:300
sanitize memcheck-radau-lu memcheck specs/hires.json \
    --set algorithm=radau_iia_5 --set precision=float64 \
    --set lu_matrix_location=shared --grid y1=0.5:1.5:300
sanitize initcheck-kvaerno5 initcheck specs/van_der_pol_stiff.json \
    --set algorithm=kvaerno5 --set output_types=state,time,iteration_counters \
    --grid mu=10:1000:300
echo "$pass passed, $fail failed, $skip skipped" | tee "$out/tests.txt"
grep -h "host vs cuda" "$out/test-gpu.log" > "$out/gpu-suite.txt" 2>/dev/null

# Benchmarks: cubie first, then the peers on the same device.
if [ -n "$device_preload" ]; then
    LD_PRELOAD=$device_preload timeout 300 "$build/tools/bench/bench_gpu" \
        "$root/specs" "$reps" "$shrink" 2>&1 | tee "$out/bench_gpu.txt"
else
    timeout 300 "$build/tools/bench/bench_gpu" "$root/specs" "$reps" \
        "$shrink" 2>&1 | tee "$out/bench_gpu.txt"
fi
bench_rc=$?
[ "$bench_rc" = 0 ] || echo "bench_gpu: exit $bench_rc"
# The whole cubie_run against its kernel (issue 13: <= 1.5x at 2^22 runs,
# final state; staging, copies and the storing of the results included).
runpath_n=4194304
[ -n "$device_preload" ] && runpath_n=16384
LD_PRELOAD=$device_preload CUBIE_BENCH_BACKEND=cuda timeout 300 \
    "$build/tools/bench/bench_runpath" "$root/specs" "$runpath_n" 5 2>&1 |
    tee "$out/bench_runpath.txt" || echo "bench_runpath: exit $?"
# The RK4 loop's floating-point instructions, cubie's against the
# hand-written kernel's, in the PTX and (cuobjdump) the SASS, whose files
# land in $OUT.
OUT=$out timeout 120 tools/bench/loop_ops.sh "$build" 2>&1 |
    tee "$out/loop_ops.txt" || echo "loop_ops: exit $?"
# The Python original beside us (issue 13), when its source was carried:
# CUBIE_ORIGINAL names the folder (tools/bench/original.sh).
if [ -n "${CUBIE_ORIGINAL:-}" ] && [ -z "$device_preload" ]; then
    OUT=$out tools/bench/original.sh "$CUBIE_ORIGINAL" \
        "${CUBIE_ORIGINAL_REPEATS:-30}" || echo "original: exit $?"
fi
if [ "${CUBIE_DEVICE_CHECK_PEERS:-1}" != 1 ]; then
    echo "peers: not asked for" | tee "$out/peers.txt"
elif python3 -c "import numpy" 2>/dev/null && [ -z "$device_preload" ]; then
    PYTHONUNBUFFERED=1 timeout 300 python3 tools/bench/peers_lorenz.py \
        2>&1 | tee "$out/peers.txt"
else
    echo "peers: skipped (no numpy, or an emulated run)" | tee "$out/peers.txt"
fi
[ "$fail" = 0 ] && [ "$bench_rc" = 0 ]
