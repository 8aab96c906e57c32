"""Prints the summary table of scripts/gpu-check.sh: each benchmark case of ember on CUDA beside
the same case in PyTorch (ratio ember/torch, time over time: below 1 is ember faster), W1 also against
cuBLAS called directly (vs_cublas: ember's GFLOP/s over cuBLAS's), then the test results.

    python3 scripts/gpu_summary.py EMBER_BENCH TORCH_BENCH CTEST_LOG
"""
import re
import sys


def parse(path):
    cases = {}
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return cases
    for line in lines:
        parts = line.split()
        if len(parts) < 4 or not re.match(r"^W\d+/", parts[0]):
            continue
        extra = dict(p.split("=", 1) for p in parts[4:] if "=" in p)
        cases[parts[0]] = (float(parts[1]), extra)
    return cases


ember, torch = parse(sys.argv[1]), parse(sys.argv[2])
rows = []
for name, (ms, extra) in ember.items():
    if name.endswith("/cublas"):
        continue
    base = name[: -len("/matmul")] if name.endswith("/matmul") else name
    t = torch.get(name)
    cublas = ember.get(base + "/cublas")
    rows.append((
        base,
        f"{ms:.4g}",
        f"{t[0]:.4g}" if t else "-",
        f"{ms / t[0]:.2f}" if t else "-",
        f"{cublas[0]:.4g}" if cublas else "",
        extra.get("vs_cublas", ""),
        extra.get("gflops", extra.get("us_per_iter", "")),
    ))
header = ("case", "ember ms", "torch ms", "ember/torch", "cuBLAS ms", "vs_cublas", "GFLOP/s or us/iter")
widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows:
    print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")

try:
    log = open(sys.argv[3]).read()
except (OSError, IndexError):
    log = ""
print()
for line in log.splitlines():
    if re.search(r"tests passed|Test +#\d+:.*(Failed|Passed|Skipped|Not Run|\*\*\*)", line):
        print(line.strip())
