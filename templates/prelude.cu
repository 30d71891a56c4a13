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
