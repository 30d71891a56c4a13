#!/usr/bin/env python3
"""The Lorenz ensemble of the GPU checklist, timed with the peers a device
image may hold: a hand-written CUDA kernel through CuPy (the roofline of
one-thread-per-run RK4), numba-cuda, PyTorch (batched tensor ops),
torchdiffeq, JAX (lax.fori_loop) and diffrax (Tsit5, fixed steps).

Same problem as tools/bench/bench_gpu.c: float32, classical RK4 at
dt = 1e-3 over t in [0, 1] from (1, 0, 0), rho = linspace(0, 21, n),
sigma = 10, beta = 8/3, final state only. Kernel times are medians over
repeats after a warm-up (CUDA events where the library has them, else
wall time after synchronising). Each peer is independent: one that is
missing or fails prints why and the others go on.

    python3 tools/bench/peers_lorenz.py [n_runs ...]      (default 2^20 2^22)
"""
import statistics
import sys
import time

STEPS = 1000
DT = 1e-3
REPEATS = 11


def report(name, n, times_ms, final=None, ref=None):
    med = statistics.median(times_ms)
    line = "%-34s n=%-8d median %9.3f ms  min %9.3f ms" % (
        name, n, med, min(times_ms))
    if final is not None and ref is not None:
        import numpy as np
        diff = float(np.max(np.abs(np.asarray(final, dtype=np.float64) - ref)
                            / np.maximum(1.0, np.abs(ref))))
        line += "  max rel. diff vs CuPy %.1e" % diff
    print(line, flush=True)
    return med


CUDA_SRC = r"""
extern "C" __global__ void lorenz_rk4(const float *rho, float *out, int n,
                                      int steps, float dt)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    float x = 1.0f, y = 0.0f, z = 0.0f, p = rho[r];
    const float s = 10.0f, b = 2.6666666666666665f;
    for (int i = 0; i < steps; ++i) {
        float k1x = s * (y - x), k1y = x * (p - z) - y, k1z = x * y - b * z;
        float ax = x + 0.5f * dt * k1x, ay = y + 0.5f * dt * k1y,
              az = z + 0.5f * dt * k1z;
        float k2x = s * (ay - ax), k2y = ax * (p - az) - ay,
              k2z = ax * ay - b * az;
        float bx = x + 0.5f * dt * k2x, by = y + 0.5f * dt * k2y,
              bz = z + 0.5f * dt * k2z;
        float k3x = s * (by - bx), k3y = bx * (p - bz) - by,
              k3z = bx * by - b * bz;
        float cx = x + dt * k3x, cy = y + dt * k3y, cz = z + dt * k3z;
        float k4x = s * (cy - cx), k4y = cx * (p - cz) - cy,
              k4z = cx * cy - b * cz;
        x += dt * (k1x + 2.0f * k2x + 2.0f * k3x + k4x) * (1.0f / 6.0f);
        y += dt * (k1y + 2.0f * k2y + 2.0f * k3y + k4y) * (1.0f / 6.0f);
        z += dt * (k1z + 2.0f * k2z + 2.0f * k3z + k4z) * (1.0f / 6.0f);
    }
    out[r] = x; out[n + r] = y; out[2 * n + r] = z;
}
"""


def peer_cupy(n):
    import cupy as cp
    import numpy as np
    kern = cp.RawKernel(CUDA_SRC, "lorenz_rk4")
    rho = cp.linspace(0.0, 21.0, n, dtype=cp.float32)
    out = cp.empty(3 * n, dtype=cp.float32)
    block = 256
    grid = (n + block - 1) // block
    args = (rho, out, np.int32(n), np.int32(STEPS), np.float32(DT))
    kern((grid,), (block,), args)
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(REPEATS):
        e0, e1 = cp.cuda.Event(), cp.cuda.Event()
        e0.record()
        kern((grid,), (block,), args)
        e1.record()
        e1.synchronize()
        times.append(cp.cuda.get_elapsed_time(e0, e1))
    ref = cp.asnumpy(out).reshape(3, n).T.astype(np.float64)
    report("CuPy RawKernel (hand-written RK4)", n, times)
    return ref


def peer_numba(n, ref):
    import numpy as np
    from numba import cuda, float32

    @cuda.jit(fastmath=False)
    def lorenz(rho, out, steps, dt):
        r = cuda.grid(1)
        if r >= rho.shape[0]:
            return
        x = float32(1.0)
        y = float32(0.0)
        z = float32(0.0)
        p = rho[r]
        s = float32(10.0)
        b = float32(2.6666666666666665)
        h = float32(0.5) * dt
        for _ in range(steps):
            k1x = s * (y - x)
            k1y = x * (p - z) - y
            k1z = x * y - b * z
            ax = x + h * k1x
            ay = y + h * k1y
            az = z + h * k1z
            k2x = s * (ay - ax)
            k2y = ax * (p - az) - ay
            k2z = ax * ay - b * az
            bx = x + h * k2x
            by = y + h * k2y
            bz = z + h * k2z
            k3x = s * (by - bx)
            k3y = bx * (p - bz) - by
            k3z = bx * by - b * bz
            cx = x + dt * k3x
            cy = y + dt * k3y
            cz = z + dt * k3z
            k4x = s * (cy - cx)
            k4y = cx * (p - cz) - cy
            k4z = cx * cy - b * cz
            w = dt / float32(6.0)
            x += w * (k1x + float32(2.0) * k2x + float32(2.0) * k3x + k4x)
            y += w * (k1y + float32(2.0) * k2y + float32(2.0) * k3y + k4y)
            z += w * (k1z + float32(2.0) * k2z + float32(2.0) * k3z + k4z)
        out[r, 0] = x
        out[r, 1] = y
        out[r, 2] = z

    rho = cuda.to_device(np.linspace(0.0, 21.0, n).astype(np.float32))
    out = cuda.device_array((n, 3), dtype=np.float32)
    block = 256
    grid = (n + block - 1) // block
    lorenz[grid, block](rho, out, STEPS, np.float32(DT))
    cuda.synchronize()
    times = []
    for _ in range(REPEATS):
        e0, e1 = cuda.event(), cuda.event()
        e0.record()
        lorenz[grid, block](rho, out, STEPS, np.float32(DT))
        e1.record()
        e1.synchronize()
        times.append(cuda.event_elapsed_time(e0, e1))
    report("numba-cuda @cuda.jit", n, times, out.copy_to_host(), ref)


def lorenz_torch(y, rho):
    import torch
    x, yy, z = y[:, 0], y[:, 1], y[:, 2]
    return torch.stack((10.0 * (yy - x), x * (rho - z) - yy,
                        x * yy - (8.0 / 3.0) * z), dim=1)


def peer_torch(n, ref):
    import torch
    dev = "cuda"
    rho = torch.linspace(0.0, 21.0, n, device=dev, dtype=torch.float32)
    y0 = torch.zeros((n, 3), device=dev, dtype=torch.float32)
    y0[:, 0] = 1.0

    def run():
        y = y0.clone()
        for _ in range(STEPS):
            k1 = lorenz_torch(y, rho)
            k2 = lorenz_torch(y + 0.5 * DT * k1, rho)
            k3 = lorenz_torch(y + 0.5 * DT * k2, rho)
            k4 = lorenz_torch(y + DT * k3, rho)
            y = y + (DT / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        return y

    run()
    torch.cuda.synchronize()
    times = []
    y = None
    for _ in range(3):  # each repeat is 1000 Python-level steps
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        y = run()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))
    report("PyTorch batched tensor RK4", n, times, y.cpu().numpy(), ref)


def peer_torchdiffeq(n, ref):
    import torch
    from torchdiffeq import odeint
    dev = "cuda"
    rho = torch.linspace(0.0, 21.0, n, device=dev, dtype=torch.float32)
    y0 = torch.zeros((n, 3), device=dev, dtype=torch.float32)
    y0[:, 0] = 1.0
    t = torch.tensor([0.0, 1.0], device=dev, dtype=torch.float32)

    def f(_t, y):
        return lorenz_torch(y, rho)

    def run():
        return odeint(f, y0, t, method="rk4", options={"step_size": DT})[-1]

    run()
    torch.cuda.synchronize()
    times = []
    y = None
    for _ in range(3):
        e0 = torch.cuda.Event(enable_timing=True)
        e1 = torch.cuda.Event(enable_timing=True)
        e0.record()
        y = run()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))
    report("torchdiffeq odeint rk4", n, times, y.cpu().numpy(), ref)


def peer_jax(n, ref):
    import jax
    import jax.numpy as jnp
    import numpy as np

    def f(y, rho):
        x, yy, z = y
        return jnp.stack((10.0 * (yy - x), x * (rho - z) - yy,
                          x * yy - (8.0 / 3.0) * z))

    @jax.jit
    def run(rho):
        y0 = jnp.stack((jnp.ones_like(rho), jnp.zeros_like(rho),
                        jnp.zeros_like(rho)))
        dt = jnp.float32(DT)

        def step(_i, y):
            k1 = f(y, rho)
            k2 = f(y + 0.5 * dt * k1, rho)
            k3 = f(y + 0.5 * dt * k2, rho)
            k4 = f(y + dt * k3, rho)
            return y + (dt / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)

        return jax.lax.fori_loop(0, STEPS, step, y0)

    rho = jnp.linspace(0.0, 21.0, n, dtype=jnp.float32)
    run(rho).block_until_ready()
    times = []
    y = None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        y = run(rho).block_until_ready()
        times.append((time.perf_counter() - t0) * 1e3)
    report("JAX lax.fori_loop RK4 (wall)", n, times, np.asarray(y).T, ref)


def peer_diffrax(n):
    import diffrax
    import jax
    import jax.numpy as jnp

    def f(_t, y, rho):
        x, yy, z = y
        return jnp.stack((10.0 * (yy - x), x * (rho - z) - yy,
                          x * yy - (8.0 / 3.0) * z))

    term = diffrax.ODETerm(f)

    def one(rho):
        sol = diffrax.diffeqsolve(
            term, diffrax.Tsit5(), t0=0.0, t1=1.0, dt0=DT,
            y0=jnp.array([1.0, 0.0, 0.0], dtype=jnp.float32), args=rho,
            stepsize_controller=diffrax.ConstantStepSize(),
            saveat=diffrax.SaveAt(t1=True), max_steps=STEPS + 16)
        return sol.ys[-1]

    run = jax.jit(jax.vmap(one))
    rho = jnp.linspace(0.0, 21.0, n, dtype=jnp.float32)
    run(rho).block_until_ready()
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        run(rho).block_until_ready()
        times.append((time.perf_counter() - t0) * 1e3)
    report("diffrax Tsit5 fixed dt (wall; cf. cubie tsit5 fixed)", n, times)


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1 << 20, 1 << 22]
    for n in sizes:
        ref = None
        try:
            ref = peer_cupy(n)
        except Exception as e:  # noqa: BLE001 - report and go on
            print("%-34s n=%-8d unavailable: %s" % ("CuPy RawKernel", n, e))
        for name, fn in (("numba-cuda", peer_numba), ("PyTorch", peer_torch),
                         ("torchdiffeq", peer_torchdiffeq),
                         ("JAX", peer_jax)):
            try:
                fn(n, ref)
            except Exception as e:  # noqa: BLE001
                print("%-34s n=%-8d unavailable: %s" % (name, n, e),
                      flush=True)
        try:
            peer_diffrax(n)
        except Exception as e:  # noqa: BLE001
            print("%-34s n=%-8d unavailable: %s" % ("diffrax", n, e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
