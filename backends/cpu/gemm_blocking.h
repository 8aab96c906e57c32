#pragma once
// How ember cuts a GEMM among threads without changing its bits (docs/determinism.md): the float32
// OpenBLAS path (blas.cpp) and oneDNN's 16-bit matmul (onednn.cpp) both compute C as these blocks.
#include <algorithm>
#include <cstdint>

namespace ember::cpu {

// The fixed blocking of a GEMM: C is cut into a grid of blocks of `rows` x `cols` (the last row
// and column of blocks may be smaller), each computed by one single-threaded BLAS (or oneDNN) call
// over the whole of K. The grid depends on m, n and k alone, never on the thread count, and no two
// blocks write the same element of C, so every element is the same sum in the same order on 1, 2
// or 16 threads; the threads only decide who computes which block.
struct Blocking {
  int64_t rows, cols;            // block size
  int64_t row_blocks, col_blocks;
  int64_t count() const { return row_blocks * col_blocks; }
};

// A block packs its slices of op(A) and op(B) again, k * (rows + cols) copies for rows * cols * k
// multiply-adds, and next to AVX-512 multiply-adds packing is slow, so blocks must be large:
// 64 x 64 blocks made the [128, 784] @ [784, 256] product 44% slower on one thread, 128 x 128 ones
// 1% (docs/determinism.md). The larger side is halved until there are kTargetBlocks blocks (enough
// to share among many threads) and no side is over kMaxBlockSide, but no side is cut below
// kMinBlockSide, and no block below kMinBlockWork multiply-adds (OpenBLAS itself runs products
// under 4 * 65536 on one thread). Sides are multiples of kBlockAlign, which keeps the kernels'
// register tiles (at most 16 rows or columns) whole.
inline constexpr double kMinBlockWork = 1 << 18;
inline constexpr int64_t kBlockAlign = 16;
inline constexpr int64_t kMinBlockSide = 128;
inline constexpr int64_t kTargetBlocks = 16;
inline constexpr int64_t kMaxBlockSide = 512;

inline Blocking gemm_blocking(int64_t m, int64_t n, int64_t k) {
  auto halve = [](int64_t side) { return ((side + 1) / 2 + kBlockAlign - 1) / kBlockAlign * kBlockAlign; };
  auto blocks = [](int64_t extent, int64_t side) { return (extent + side - 1) / side; };
  int64_t rows = m, cols = n;
  while (blocks(m, rows) * blocks(n, cols) < kTargetBlocks || std::max(rows, cols) > kMaxBlockSide) {
    const bool split_rows = rows >= cols;
    const int64_t side = split_rows ? rows : cols;
    if (side < 2 * kMinBlockSide) break;
    const int64_t half = halve(side);
    if (double(half) * double(split_rows ? cols : rows) * double(k) < kMinBlockWork) break;
    (split_rows ? rows : cols) = half;
  }
  return {rows, cols, blocks(m, rows), blocks(n, cols)};
}

}  // namespace ember::cpu
