// Start of prelude.cu.
// Maps the generated code onto CUDA C++ (NVRTC) or onto C (the host
// backend), so one source serves both. The generator defines CB_F32 (1 for
// float32, 0 for float64) above this prelude; it emits precision-specific
// literals and math names itself, so a float32 kernel holds no double
// arithmetic.
#if defined(__CUDACC_RTC__) || defined(__CUDACC__)
#define CB_GPU 1
#define CB_DEVFN static __device__ __forceinline__
#define CB_KERNEL extern "C" __global__
// A loop kept rolled: the direct solve's elimination, whose full
// unrolling multiplies compile time and register pressure.
#define CB_ROLLED _Pragma("unroll 1")
#else
#define CB_GPU 0
#include <math.h>
#ifdef __cplusplus
#define CB_EXTERN_C extern "C"
#else
#define CB_EXTERN_C
#endif
#define CB_DEVFN static inline __attribute__((always_inline))
// glibc's vector math (libmvec, linked through libm): declared with
// their SIMD variants, the expression language's functions vectorise in
// the host lanes (lanes.cu). glibc's own declarations of them need
// -ffast-math, which would break the NaN and infinity tests.
#if defined(__x86_64__) && defined(__GLIBC__) && defined(_OPENMP) && \
    !defined(__FAST_MATH__) && !defined(CB_NO_VECTOR_MATH)
#pragma omp declare simd notinbranch
extern double exp(double);
#pragma omp declare simd notinbranch
extern float expf(float);
#pragma omp declare simd notinbranch
extern double log(double);
#pragma omp declare simd notinbranch
extern float logf(float);
#pragma omp declare simd notinbranch
extern double pow(double, double);
#pragma omp declare simd notinbranch
extern float powf(float, float);
#pragma omp declare simd notinbranch
extern double sin(double);
#pragma omp declare simd notinbranch
extern float sinf(float);
#pragma omp declare simd notinbranch
extern double cos(double);
#pragma omp declare simd notinbranch
extern float cosf(float);
#pragma omp declare simd notinbranch
extern double tan(double);
#pragma omp declare simd notinbranch
extern float tanf(float);
#pragma omp declare simd notinbranch
extern double asin(double);
#pragma omp declare simd notinbranch
extern float asinf(float);
#pragma omp declare simd notinbranch
extern double acos(double);
#pragma omp declare simd notinbranch
extern float acosf(float);
#pragma omp declare simd notinbranch
extern double atan(double);
#pragma omp declare simd notinbranch
extern float atanf(float);
#pragma omp declare simd notinbranch
extern double atan2(double, double);
#pragma omp declare simd notinbranch
extern float atan2f(float, float);
#pragma omp declare simd notinbranch
extern double sinh(double);
#pragma omp declare simd notinbranch
extern float sinhf(float);
#pragma omp declare simd notinbranch
extern double cosh(double);
#pragma omp declare simd notinbranch
extern float coshf(float);
#pragma omp declare simd notinbranch
extern double tanh(double);
#pragma omp declare simd notinbranch
extern float tanhf(float);
#pragma omp declare simd notinbranch
extern double erf(double);
#pragma omp declare simd notinbranch
extern float erff(float);
#endif
#define CB_KERNEL CB_EXTERN_C __attribute__((visibility("default")))
#define CB_ROLLED
#endif

#if CB_F32
typedef float real;
#else
typedef double real;
#endif

// The quiet NaN of C's NAN, bit for bit (0x7fc00000, 0x7ff8000000000000),
// on both backends: what a failed run's rows read.
#if CB_GPU && CB_F32
#define CB_NAN __int_as_float(0x7fc00000)
#elif CB_GPU
#define CB_NAN __longlong_as_double(0x7ff8000000000000LL)
#elif CB_F32
#define CB_NAN __builtin_nanf("")
#else
#define CB_NAN __builtin_nan("")
#endif

// sign(x): -1, 0 or 1 (the expression language's sign()).
CB_DEVFN real cb_sign(real x)
{
    return (real)((x > (real)0) - (x < (real)0));
}

CB_DEVFN int cb_finite(real x)
{
    return isfinite(x);
}

// fmin and fmax, NaN rule included (a NaN operand yields the other), as
// selects on the host: x86 has no vector instruction with that rule, so a
// loop that calls fminf does not vectorise, and these do (lanes.cu).
CB_DEVFN real cb_fmin(real a, real b)
{
#if CB_GPU && CB_F32
    return fminf(a, b);
#elif CB_GPU
    return fmin(a, b);
#else
    return (a < b) | (b != b) ? a : b;
#endif
}

CB_DEVFN real cb_fmax(real a, real b)
{
#if CB_GPU && CB_F32
    return fmaxf(a, b);
#elif CB_GPU
    return fmax(a, b);
#else
    return (a > b) | (b != b) ? a : b;
#endif
}

// log2 and exp2 of the step controller (gen/controller.c), in plain
// arithmetic: a lane's controller then gives the same bits in vector
// registers and out of them, where libm's exp and log and libmvec's
// differ in their last bits, and the device build the same as the host's
// where both round as written. Within 2.5 ulps (tests/test_adaptive.c);
// log2 of 0 is -inf, of a negative number NaN; exp2 overflows to inf and
// underflows through the subnormals to 0; NaN stays NaN.
#if CB_F32
typedef int cb_bits;
#else
typedef long long cb_bits;
#endif

CB_DEVFN cb_bits cb_to_bits(real x)
{
#if CB_GPU && CB_F32
    return __float_as_int(x);
#elif CB_GPU
    return __double_as_longlong(x);
#else
    cb_bits b;
    __builtin_memcpy(&b, &x, sizeof(b));
    return b;
#endif
}

CB_DEVFN real cb_from_bits(cb_bits b)
{
#if CB_GPU && CB_F32
    return __int_as_float(b);
#elif CB_GPU
    return __longlong_as_double(b);
#else
    real x;
    __builtin_memcpy(&x, &b, sizeof(x));
    return x;
#endif
}

// c ? a : b, on the host as bits rather than a branch: no optimiser
// (gcc's partial redundancy elimination) threads the code that follows
// through it, which would turn the lanes' controller into masks the
// vectoriser cannot mix.
CB_DEVFN real cb_pick(int c, real a, real b)
{
#if CB_GPU
    return c ? a : b;
#else
    const cb_bits m = -(cb_bits)(c != 0);
    return cb_from_bits((cb_to_bits(a) & m) | (cb_to_bits(b) & ~m));
#endif
}

#if CB_F32
#define CB_MANT_BITS 23
#define CB_EXP_BIAS 127
#define CB_SQRT_HALF_BITS 0x3f3504f3            // sqrt(1/2)
#define CB_ROUNDER 12582912.0f                  // 1.5 2^23
#define CB_ROUNDER_BITS 0x4b400000
#define CB_TINY 1.17549435e-38f                 // smallest normal
#define CB_TINY_SCALE 16777216.0f               // 2^24
#define CB_TINY_SCALE_LOG2 24
#define CB_EXP2_MAX 129.0f
#define CB_EXP2_MIN -151.0f
#define CB_EXP2_HALF 64
#else
#define CB_MANT_BITS 52
#define CB_EXP_BIAS 1023
#define CB_SQRT_HALF_BITS 0x3fe6a09e667f3bcdLL
#define CB_ROUNDER 6755399441055744.0           // 1.5 2^52
#define CB_ROUNDER_BITS 0x4338000000000000LL
#define CB_TINY 2.2250738585072014e-308
#define CB_TINY_SCALE 18014398509481984.0       // 2^54
#define CB_TINY_SCALE_LOG2 54
#define CB_EXP2_MAX 1025.0
#define CB_EXP2_MIN -1076.0
#define CB_EXP2_HALF 512
#endif

// e in the exponent field: k 2^mant_bits, in unsigned arithmetic (a
// negative k shifted is undefined in C).
CB_DEVFN cb_bits cb_shl(cb_bits k)
{
#if CB_F32
    return (cb_bits)((unsigned)k << CB_MANT_BITS);
#else
    return (cb_bits)((unsigned long long)k << CB_MANT_BITS);
#endif
}

// log2 x = k + log2 z, z = x 2^-k in [sqrt(1/2), sqrt(2)); log2 z =
// (2 / ln 2) atanh(s), s = (z - 1) / (z + 1), |s| <= 0.172, as its series.
CB_DEVFN real cb_log2(real x)
{
    const int tiny = x < CB_TINY; // zero, subnormal or negative
    const real xs = tiny ? x * CB_TINY_SCALE : x;
    const cb_bits off = cb_to_bits(xs) - (cb_bits)CB_SQRT_HALF_BITS;
    const cb_bits k = off >> CB_MANT_BITS; // arithmetic: k < 0 below 1
    const real z = cb_from_bits(cb_to_bits(xs) - cb_shl(k));
    const real s = (z - (real)1) / (z + (real)1);
    const real s2 = s * s;
#if CB_F32
    real p = 0.09090909090909091f;
    p = p * s2 + 0.1111111111111111f;
    p = p * s2 + 0.14285714285714285f;
    p = p * s2 + 0.2f;
    p = p * s2 + 0.3333333333333333f;
    const real kr = (real)(k - (tiny ? CB_TINY_SCALE_LOG2 : 0));
    // (2 / ln 2) s exactly (the constant in two parts, the product's
    // error by fma), then the series' tail.
    const real hi = s * 2.88539004f;
    const real lo = fmaf(s, 2.88539004f, -hi) + s * 3.851926e-08f;
    const real r = kr + (hi + (lo + hi * s2 * p));
#else
    real p = 0.047619047619047616;
    p = p * s2 + 0.05263157894736842;
    p = p * s2 + 0.058823529411764705;
    p = p * s2 + 0.06666666666666667;
    p = p * s2 + 0.07692307692307693;
    p = p * s2 + 0.09090909090909091;
    p = p * s2 + 0.1111111111111111;
    p = p * s2 + 0.14285714285714285;
    p = p * s2 + 0.2;
    p = p * s2 + 0.3333333333333333;
    // k as a double without a 64-bit conversion (which AVX2 lacks).
    const real kr = (real)((int)k - (tiny ? CB_TINY_SCALE_LOG2 : 0));
    const real hi = s * 2.8853900817779268;
    const real lo = fma(s, 2.8853900817779268, -hi) +
                    s * 4.0710547481862066e-17;
    const real r = kr + (hi + (lo + hi * s2 * p));
#endif
    const real inf = cb_from_bits(cb_shl(2 * CB_EXP_BIAS + 1));
    real out = x == (real)0 ? -inf : r;
    out = x == inf ? x : out;
    return (x < (real)0) | (x != x) ? CB_NAN : out;
}

// exp2 y = 2^k 2^r, k = round(y), |r| <= 1/2: 2^r as its Taylor series
// in r ln 2; 2^k as two powers of two, so a result below the normals is
// rounded once.
CB_DEVFN real cb_exp2(real y)
{
    const real yc = y > CB_EXP2_MAX ? CB_EXP2_MAX
                    : y < CB_EXP2_MIN ? CB_EXP2_MIN : y;
    const real big = yc + CB_ROUNDER; // round to nearest: k in its low bits
    const cb_bits k = cb_to_bits(big) - (cb_bits)CB_ROUNDER_BITS;
    const real r = yc - (big - CB_ROUNDER);
#if CB_F32
    real p = 1.5252733804059841e-05f;
    p = p * r + 0.0001540353039338161f;
    p = p * r + 0.0013333558146428443f;
    p = p * r + 0.009618129107628477f;
    p = p * r + 0.05550410866482158f;
    p = p * r + 0.24022650695910072f;
    p = p * r + 0.6931471805599453f;
    p = p * r + 1.0f;
#else
    real p = 1.3691488853904128e-12;
    p = p * r + 2.5678435993488206e-11;
    p = p * r + 4.4455382718708116e-10;
    p = p * r + 7.054911620801123e-09;
    p = p * r + 1.01780860092397e-07;
    p = p * r + 1.321548679014431e-06;
    p = p * r + 1.5252733804059841e-05;
    p = p * r + 0.0001540353039338161;
    p = p * r + 0.0013333558146428443;
    p = p * r + 0.009618129107628477;
    p = p * r + 0.05550410866482158;
    p = p * r + 0.24022650695910072;
    p = p * r + 0.6931471805599453;
    p = p * r + 1.0;
#endif
    const cb_bits k1 = k > 0 ? CB_EXP2_HALF : -CB_EXP2_HALF;
    const real s1 = cb_from_bits(cb_shl(k1 + CB_EXP_BIAS));
    const real s2 = cb_from_bits(cb_shl(k - k1 + CB_EXP_BIAS));
    return y != y ? y : p * s1 * s2;
}

// Time. float64 kernels keep time in a double. float32 kernels keep it as
// an unevaluated sum hi + lo of two floats (about 48 significant bits), so
// time accumulates without drift and without any double instruction.
#if CB_F32
typedef struct {
    float hi, lo;
} cb_time;

// The error-free sums below must be rounded as written. NVVM fuses a
// multiply into a later add or subtract (--fmad=true), even where the
// product has other uses, which would break them; __f*_rn are never fused.
// The host's C compiler fuses too (gnu11: -ffp-contract=fast), but only
// a product whose every use is an add or subtract: the one product here
// also feeds fmaf, and the loop passes cb_time_add a loaded step or a
// difference, never a product.
#if CB_GPU
#define cb_fadd(a, b) __fadd_rn((a), (b))
#define cb_fsub(a, b) __fsub_rn((a), (b))
#define cb_fmul(a, b) __fmul_rn((a), (b))
#else
#define cb_fadd(a, b) ((a) + (b))
#define cb_fsub(a, b) ((a) - (b))
#define cb_fmul(a, b) ((a) * (b))
#endif

CB_DEVFN cb_time cb_time_make(float hi, float lo)
{
    cb_time r;
    float s = cb_fadd(hi, lo);
    r.lo = cb_fsub(lo, cb_fsub(s, hi));
    r.hi = s;
    return r;
}

// a + b with the rounding error of the sum kept (Knuth's two-sum).
CB_DEVFN cb_time cb_time_add(cb_time a, float b)
{
    float s = cb_fadd(a.hi, b);
    float bb = cb_fsub(s, a.hi);
    float e = cb_fadd(cb_fsub(a.hi, cb_fsub(s, bb)), cb_fsub(b, bb));
    return cb_time_make(s, cb_fadd(e, a.lo));
}

// base + k*step for a whole number k (exact below 2^24).
CB_DEVFN cb_time cb_time_mul_add(cb_time base, float k, cb_time step)
{
    float p = cb_fmul(k, step.hi);
    // The error of p, plus k lo, each in one rounding: the same on
    // every compiler, fused or not.
    float pe = fmaf(k, step.lo, fmaf(k, step.hi, -p));
    cb_time r = cb_time_add(base, p);
    return cb_time_make(r.hi, cb_fadd(r.lo, pe));
}

// a - b rounded to float: exact in hi when a and b are close.
CB_DEVFN float cb_time_sub(cb_time a, cb_time b)
{
    return cb_fadd(cb_fsub(a.hi, b.hi), cb_fsub(a.lo, b.lo));
}

CB_DEVFN float cb_time_real(cb_time a)
{
    return cb_fadd(a.hi, a.lo);
}
#else
typedef double cb_time;

CB_DEVFN cb_time cb_time_make(double hi, double lo)
{
    return hi + lo;
}

CB_DEVFN cb_time cb_time_add(cb_time a, double b)
{
    return a + b;
}

CB_DEVFN cb_time cb_time_mul_add(cb_time base, double k, cb_time step)
{
    return base + k * step;
}

CB_DEVFN double cb_time_sub(cb_time a, cb_time b)
{
    return a - b;
}

CB_DEVFN double cb_time_real(cb_time a)
{
    return a;
}
#endif
// End of prelude.cu.
