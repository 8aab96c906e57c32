"""The PyTorch peer of bench/cuda_bench.cpp: the same cases, sizes, repetitions and timing rule
(warm-up steps, then at least 20 timed steps, each ending with torch.cuda.synchronize(); the median
is the figure). Prints lines in the format of docs/benchmarks.md: name  median_ms  min_ms  max_ms  [k=v].

    python3 bench/torch_gpu/torch_bench.py [W1|W2|W3|W7|W8]...
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

dev = torch.device("cuda")


def time_steps(step, warmup=3, steps=20):
    for _ in range(warmup):
        step()
    ms = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    n = len(ms)
    med = ms[n // 2] if n % 2 else (ms[n // 2 - 1] + ms[n // 2]) / 2
    return med, ms[0], ms[-1]


def fmt(v):
    a = abs(v)
    if a >= 100 or v == 0:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def show(name, t, **extra):
    line = f"{name}  {fmt(t[0])}  {fmt(t[1])}  {fmt(t[2])}"
    for k, v in extra.items():
        line += f"  {k}={fmt(v)}"
    print(line, flush=True)


def per_call(t, reps):
    return tuple(x / reps for x in t)


def w1():
    names = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        for n in (1024, 2048, 4096, 8192):
            g = torch.Generator(device=dev).manual_seed(1)
            a = torch.randn(n, n, device=dev, dtype=dtype, generator=g)
            b = torch.randn(n, n, device=dev, dtype=dtype, generator=g)
            reps = 50 if n <= 2048 else 5

            def step():
                for _ in range(reps):
                    torch.matmul(a, b)
                torch.cuda.synchronize()

            t = per_call(time_steps(step), reps)
            show(f"W1/{names[dtype]}/{n}/matmul", t, gflops=2 * n**3 / (t[0] * 1e6))


def train(model, x, y):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        torch.cuda.synchronize()

    return time_steps(step)


def w2():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)).to(dev)
    x, y = torch.randn(128, 784, device=dev), torch.randint(0, 10, (128,), device=dev)
    show("W2/mlp", train(mlp, x, y))


def w3():
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10)).to(dev)
    x, y = torch.randn(64, 1, 28, 28, device=dev), torch.randint(0, 10, (64,), device=dev)
    show("W3/convnet", train(cnn, x, y))


def w7():
    # PyTorch 2.x's fused scaled_dot_product_attention (its flash or memory-efficient kernel, as it
    # picks for float32) beside its math path: ember's W7/flash and W7/math.
    def kernels(path):
        try:  # torch >= 2.3
            from torch.nn.attention import SDPBackend, sdpa_kernel
            if path == "math":
                return sdpa_kernel([SDPBackend.MATH])
            return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION])
        except ImportError:
            fused = path != "math"
            return torch.backends.cuda.sdp_kernel(enable_flash=fused, enable_mem_efficient=fused,
                                                  enable_math=not fused)

    for path in ("math", "flash"):
        for n in (512, 1024, 2048, 4096, 8192):
            g = torch.Generator(device=dev).manual_seed(7)
            q, k, v, go = (torch.randn(1, 4, n, 64, device=dev, generator=g) for _ in range(4))
            for x in (q, k, v):
                x.requires_grad_()
            torch.cuda.synchronize()
            inputs = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()

            def step():
                with kernels(path):
                    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                torch.autograd.grad(out, (q, k, v), go)
                torch.cuda.synchronize()

            t = time_steps(step)
            show(f"W7/{path}/{n}", t, extra_mb=(torch.cuda.max_memory_allocated() - inputs) / 2**20)


def w8():
    with torch.no_grad():
        a, b = torch.ones(1, device=dev), torch.ones(1, device=dev)

        def add():
            for _ in range(10000):
                a + b
            torch.cuda.synchronize()

        t = time_steps(add)
        show("W8/add", t, us_per_iter=t[0] * 1000 / 10000)
    x = torch.randn(16, device=dev, requires_grad=True)
    y = torch.randn(16, device=dev, requires_grad=True)

    def fb():
        for _ in range(1000):
            (x * y).sum().backward()
        torch.cuda.synchronize()

    t = time_steps(fb)
    show("W8/mul_sum_backward", t, us_per_iter=t[0] * 1000 / 1000)


if __name__ == "__main__":
    # float32 matmul in full float32, as ember and cuBLAS's default do (not TF32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"# torch {torch.__version__} on {torch.cuda.get_device_name(0)}", file=sys.stderr)
    which = sys.argv[1:] or ["W1", "W2", "W3", "W7", "W8"]
    for w in which:
        {"W1": w1, "W2": w2, "W3": w3, "W7": w7, "W8": w8}[w]()
