#!/usr/bin/python3
"""PyTorch side of the safetensors interop test (run with Debian's python3-torch).

1. Writes torch_linear.safetensors: torch.nn.Linear(3, 2)'s state_dict with known values, in the
   safetensors layout (written here by hand from the format's definition: the safetensors Python
   package is not in Debian).
2. Reads ember_linear.safetensors (written by ember from the same module) and loads it into a
   torch.nn.Linear(3, 2) with load_state_dict(strict=True), checking names, dtypes and values.
"""
import json
import os
import struct

import torch

here = os.path.dirname(os.path.abspath(__file__))
CODES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
DTYPES = {v: k for k, v in CODES.items()}

lin = torch.nn.Linear(3, 2)
with torch.no_grad():
    lin.weight.copy_(torch.arange(6, dtype=torch.float32).view(2, 3) / 10)
    lin.bias.copy_(torch.tensor([-1.0, 1.0]))

header, blobs, offset = {}, [], 0
for name, t in lin.state_dict().items():
    data = t.contiguous().numpy().tobytes()
    header[name] = {"dtype": CODES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
    blobs.append(data)
    offset += len(data)
text = json.dumps(header).encode()
with open(os.path.join(here, "torch_linear.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

path = os.path.join(here, "ember_linear.safetensors")
if os.path.exists(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    state = {}
    for name, info in meta.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        state[name] = torch.frombuffer(bytearray(data[b:e]), dtype=DTYPES[info["dtype"]]).view(info["shape"])
    check = torch.nn.Linear(3, 2)
    check.load_state_dict(state, strict=True)
    assert torch.equal(check.weight, lin.weight) and torch.equal(check.bias, lin.bias)
    print("ember_linear.safetensors loads in PyTorch with the same names and values")
