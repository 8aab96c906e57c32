#!/usr/bin/python3
"""PyTorch side of the safetensors interop test (run with Debian's python3-torch).

1. Writes torch_linear.safetensors: torch.nn.Linear(3, 2)'s state_dict with known values, in the
   safetensors layout (written here by hand from the format's definition: the safetensors Python
   package is not in Debian).
2. Writes torch_dtypes.safetensors: one small tensor of every dtype safetensors and ember share,
   with values whose bytes differ between dtypes of the same width (F16 vs BF16, I32 vs F32).
3. Reads ember_linear.safetensors (written by ember from the same module) and loads it into a
   torch.nn.Linear(3, 2) with load_state_dict(strict=True), checking names, dtypes and values.
"""
import json
import os
import struct

import torch

here = os.path.dirname(os.path.abspath(__file__))
CODES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
         torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}
DTYPES = {v: k for k, v in CODES.items()}



def raw_bytes(t):
    # numpy has no bfloat16: write 2-byte floats through their int16 bit patterns.
    t = t.contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = raw_bytes(t)
        header[name] = {"dtype": CODES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


lin = torch.nn.Linear(3, 2)
with torch.no_grad():
    lin.weight.copy_(torch.arange(6, dtype=torch.float32).view(2, 3) / 10)
    lin.bias.copy_(torch.tensor([-1.0, 1.0]))

write_safetensors(os.path.join(here, "torch_linear.safetensors"), lin.state_dict())

dtypes = {
    "bool": torch.tensor([[True, False, False], [False, True, True]]),
    "u8": torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8),
    "i32": torch.tensor([[-2147483648, -1], [65536, 2147483647]], dtype=torch.int32),
    "i64": torch.tensor([-(2**62) - 3, 2**40 + 7, -1], dtype=torch.int64),
    "f16": torch.tensor([1.0, -2.5, 0.1, 65504.0, 6e-8], dtype=torch.float16),
    "bf16": torch.tensor([[1.0, -2.5], [0.1, 3.0e38]], dtype=torch.bfloat16),
    "f32": torch.tensor([0.1, -1.0e30, 1.0e-40], dtype=torch.float32),
    "f64": torch.tensor([[0.1], [-1.0e300]], dtype=torch.float64),
}
write_safetensors(os.path.join(here, "torch_dtypes.safetensors"), dtypes)
for name, t in dtypes.items():
    # The expected values of tests/io/test_safetensors_dtypes.cpp, as the bit patterns PyTorch wrote.
    print(name, t.dtype, list(t.shape), raw_bytes(t).hex())

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
