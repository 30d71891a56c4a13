#!/usr/bin/env bash
# Floating-point instructions in the hot loop of the Lorenz RK4 float32
# kernel, cubie's against the hand-written CUDA kernel of peers_lorenz.py,
# read from the PTX (NVRTC for cubie's, nvcc -ptx for the hand-written one;
# no device needed). Both loops are unrolled twice by the compiler: the
# counts are for the loop body as written out, two steps each. PTX is not
# SASS (ptxas schedules and may fuse further): where cuobjdump is on the
# PATH (the device machine's toolkit), the same count is made of the SASS
# of both kernels for sm_90 (CUBIN: cubie compile --arch sm_90, nvcc
# -cubin), whose FFMA/FMUL/FADD are what the SMs run.
#   tools/bench/loop_ops.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
tmp=$(mktemp -d)
py=/usr/bin/python3
[ -x "$py" ] || py=python3
trap 'rm -rf "$tmp"' EXIT
"$build/cubie" compile specs/lorenz.json --arch compute_90 \
    --set algorithm=classical-rk4 --set precision=float32 --set dt=0.001 \
    --set cache=false -o "$tmp/cubie.ptx" > /dev/null
"$py" - "$tmp/hand.cu" <<'PY'
import sys
src = open("tools/bench/peers_lorenz.py").read()
a = src.index('extern "C"')
open(sys.argv[1], "w").write(src[a:src.index('"""', a)])
PY
"$nvcc" -ptx -arch=sm_90 -O3 "$tmp/hand.cu" -o "$tmp/hand.ptx"
"$py" - "$tmp/cubie.ptx" "$tmp/hand.ptx" <<'PY'
import collections, re, sys
# The innermost loop with floating-point work (the burst loop; an outer
# loop holds it and more): the shortest body from a label to the backward
# branch that closes it with an fma in it.
def hottest(path):
    lines = open(path).read().split("\n")
    labels = {m.group(1): i for i, l in enumerate(lines)
              if (m := re.match(r"^(\$L__\w+):", l.strip()))}
    best = None
    for i, l in enumerate(lines):
        m = re.search(r"bra(?:\.uni)?\s+(\$L__\w+);", l)
        if not m or labels.get(m.group(1), i) >= i:
            continue
        ops = collections.Counter()
        for b in lines[labels[m.group(1)] + 1:i + 1]:
            w = b.strip().split()
            if not w or w[0][0] in "$/{}":
                continue
            op = w[1] if w[0].startswith("@") else w[0]
            if ".f32" in op or ".f64" in op:
                ops[op.split(".")[0] + (".f32" if ".f32" in op else ".f64")] += 1
        fp = sum(v for k, v in ops.items() if not k.startswith("mov"))
        size = i - labels[m.group(1)]
        if ops["fma.f32"] + ops["fma.f64"] > 0 and (best is None
                                                     or size < best[2]):
            best = (fp, ops, size)
    return best[:2]
for name, path in (("cubie", sys.argv[1]), ("hand-written", sys.argv[2])):
    fp, ops = hottest(path)
    print("%-13s %3d floating-point instructions (moves aside) in the loop body (%s)"
          % (name, fp, ", ".join("%s %d" % kv for kv in sorted(ops.items()))))
PY
if ! command -v cuobjdump > /dev/null; then
    echo "SASS: no cuobjdump on this machine"
    exit 0
fi
"$build/cubie" compile specs/lorenz.json --arch sm_90 \
    --set algorithm=classical-rk4 --set precision=float32 --set dt=0.001 \
    --set cache=false -o "$tmp/cubie.cubin" > /dev/null
"$nvcc" -cubin -arch=sm_90 -O3 "$tmp/hand.cu" -o "$tmp/hand.cubin"
cuobjdump -sass "$tmp/cubie.cubin" > "$tmp/cubie.sass"
cuobjdump -sass "$tmp/hand.cubin" > "$tmp/hand.sass"
# The SASS of both, for reading beside these counts.
if [ -n "${OUT:-}" ]; then
    cp "$tmp/cubie.sass" "$OUT/lorenz_rk4_cubie.sass"
    cp "$tmp/hand.sass" "$OUT/lorenz_rk4_hand.sass"
fi
"$py" tools/bench/sass_loop.py "$tmp/cubie.sass" cubie_kernel \
    "$tmp/hand.sass" ""
