#!/usr/bin/env bash
# Registers, spills and compile time of every algorithm's kernel for
# sm_90 at the default optimisation level (NVRTC, no device needed), on
# the Lorenz spec, then radau_iia_5 on the largest spec (HIRES).
#   tools/bench/resources.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
cubie="${1:-build}/cubie"
methods="euler heun-21 ralston-33 bogacki-shampine-32 classical-rk4
dormand-prince-54 cash-karp-54 fehlberg-45 dormand-prince-853 tsit5 vern7
backwards_euler backwards_euler_pc crank_nicolson implicit_midpoint
trapezoidal_dirk sdirk_2_2 l_stable_dirk_3 l_stable_sdirk_4 kvaerno3 kvaerno5
firk_gauss_legendre_2 firk_gauss_legendre_4 radau_iia_5 ros3p rodas3p
rosenbrock23"
for prec in float32 float64; do
    for m in $methods; do
        printf '%-22s %s ' "$m" "$prec"
        "$cubie" compile specs/lorenz.json --set algorithm="$m" \
            --set precision="$prec" --set cache=false --arch sm_90 |
            sed 's/^lorenz: //'
    done
done
for prec in float32 float64; do
    printf '%-22s %s hires ' radau_iia_5 "$prec"
    "$cubie" compile specs/hires.json --set algorithm=radau_iia_5 \
        --set precision="$prec" --set cache=false --arch sm_90 |
        sed 's/^hires: //'
done
