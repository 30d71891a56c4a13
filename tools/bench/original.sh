#!/usr/bin/env bash
# The Python original (ccam80/cubie) timed on the device beside cubie:
# its own benchmarks/lorenz_mean_runtime.py, whose `fixed` (classical-rk4,
# 2^22 runs, block 64) and `adaptive` (radau, jacobi, pid, 2^20 runs)
# configurations bench_gpu repeats as "original 'fixed'" and "original
# 'adaptive'" (its `chunked` and `wave` configurations run too). It
# prints the mean of the five lowest kernel times (CUDA events) and wall
# times of each.
#   tools/bench/original.sh ORIGINAL_DIR [REPEATS]
# ORIGINAL_DIR holds the original's src/ and benchmarks/: its source in an
# ignored folder (/original/ in .gitignore), carried to the device, never
# committed; a file COMMIT there may name its commit. REPEATS (30) go to
# the benchmark's --repeats (it discards 20 solves first). Writes
# original-env.txt (what imports) and original.txt to $OUT.
set -u -o pipefail
dir=${1:?usage: original.sh ORIGINAL_DIR [REPEATS]}
reps=${2:-30}
out=${OUT:-.}
py=${PYTHON:-python3}
mkdir -p "$out"
{
    echo "original: $(cat "$dir/COMMIT" 2>/dev/null || echo unknown)"
    "$py" --version 2>&1
    for m in numpy numba numba_cuda numba_cuda_mlir cupy attrs sympy lxml \
        networkx pint rdflib; do
        "$py" -c "import $m; print('$m', getattr($m, '__version__', '?'))" \
            2>&1 | tail -1
    done
} > "$out/original-env.txt"
cat "$out/original-env.txt"
# numpy 2 dropped numpy.row_stack, which the device image's numba-cuda
# still calls at import (issue 13): alias it to vstack, its old
# definition, before anything imports numba.
PYTHONPATH="$dir/src${PYTHONPATH:+:$PYTHONPATH}" timeout 300 "$py" - \
    "$dir/benchmarks/lorenz_mean_runtime.py" --repeats "$reps" <<'PY' 2>&1 |
import runpy
import sys

import numpy

if not hasattr(numpy, "row_stack"):
    numpy.row_stack = numpy.vstack
    print("original.sh: numpy %s has no row_stack; aliased to vstack"
          % numpy.__version__, flush=True)
path = sys.argv[1]
sys.argv = [path] + sys.argv[2:]
runpy.run_path(path, run_name="__main__")
PY
    tee "$out/original.txt"
