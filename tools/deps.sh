# Sourced by tools/quickstart and tools/check: install the build
# dependencies with apt-get when any is missing (Debian/Ubuntu).
cubie_deps() {
    # g++: the tests' emulated CUDA device compiles kernels as C++.
    local pkgs="meson ninja-build pkg-config gcc g++ libcjson-dev libcmocka-dev"
    pkgs="$pkgs ${CUBIE_EXTRA_PKGS:-}"
    local missing=""
    for p in $pkgs; do
        dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "installing:$missing"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
}
# The CUDA toolkit is optional: NVRTC enables the cuda backend and the
# sm_90 compile checks. Its path is given to meson explicitly.
CUBIE_CUDA_ROOT="${CUBIE_CUDA_ROOT:-/usr/local/cuda}"
