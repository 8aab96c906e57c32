#!/usr/bin/env python3
"""Writes the fuzzer's seed corpus: small valid safetensors files covering every dtype ember reads,
metadata, 0-dim and empty tensors. Plain Python (struct + json), so the seeds need no framework."""
import json
import pathlib
import struct

SEEDS = pathlib.Path(__file__).parent / "seeds"
SIZE = {"BOOL": 1, "U8": 1, "I32": 4, "I64": 8, "F16": 2, "BF16": 2, "F32": 4, "F64": 8}


def write(name, tensors, metadata=None):
    header, data = {}, b""
    for tensor_name, (dtype, shape, payload) in tensors.items():
        header[tensor_name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header with spaces to 8-byte alignment
    (SEEDS / name).write_bytes(struct.pack("<Q", len(text)) + text + data)


def main():
    SEEDS.mkdir(exist_ok=True)
    write("empty_header", {})
    write("metadata_only", {}, {"format": "pt", "step": "7"})
    write("linear_f32", {"weight": ("F32", [2, 3], struct.pack("<6f", *range(6))),
                         "bias": ("F32", [2], struct.pack("<2f", 0.5, -0.5))}, {"format": "pt"})
    every = {}
    for dtype in SIZE:
        payload = bytes([1, 0, 1, 1]) if dtype == "BOOL" else bytes(range(4 * SIZE[dtype]))
        every[f"t_{dtype.lower()}"] = (dtype, [2, 2], payload)
    write("every_dtype", every)
    write("scalar_and_empty", {"scalar": ("F64", [], struct.pack("<d", 3.25)),
                               "empty": ("F32", [0, 4], b""),
                               "also_empty": ("I64", [3, 0], b"")})


if __name__ == "__main__":
    main()
