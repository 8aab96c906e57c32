// Rotary position embedding in one pass (backends/backend.h: rotary). Done with binary kernels it is
// six passes over half-size strided views (two products and a difference, two products and a sum);
// here each element of x is read once and each of out written once. Every product and sum is
// rounded to T before the next op, as the six kernels round them, so the bits are the same.
#include <ember/backends/cpu/kernels.h>
#include <ember/backends/cpu/loops.h>
#include <ember/core/error.h>

namespace ember::cpu::EMBER_CPU_ISA {
namespace {

template <typename T>
void rotary_typed(const View& x, const View& cos_view, const View& sin_view, const View& out) {
  using C = compute_t<T>;
  const int64_t nd = x.ndim();
  const int64_t d = x.shape[nd - 1], half = d / 2, n = x.shape[nd - 2];
  const int64_t outer = x.numel() / (n * d);
  const T* x_base = static_cast<const T*>(x.data);
  const T* cos_all = static_cast<const T*>(cos_view.data);
  const T* sin_all = static_cast<const T*>(sin_view.data);
  T* out_all = static_cast<T*>(out.data);
  const int64_t pos_stride = x.strides[nd - 2], col_stride = x.strides[nd - 1];
  auto to_t = [](C v) { return static_cast<C>(T(v)); };
  parallel_for(outer, n * d * 4, [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      // The offset of x[o's leading indices, 0, 0]: o decomposed over the dims before the last two.
      int64_t offset = 0;
      for (int64_t k = nd - 3, rest = o; k >= 0; --k) {
        offset += (rest % x.shape[k]) * x.strides[k];
        rest /= x.shape[k];
      }
      for (int64_t p = 0; p < n; ++p) {
        const T* row = x_base + offset + p * pos_stride;
        const T* __restrict c = cos_all + p * half;
        const T* __restrict s = sin_all + p * half;
        T* __restrict y = out_all + (o * n + p) * d;
        if (col_stride == 1) {
          const T* __restrict x1 = row;
          const T* __restrict x2 = row + half;
          for (int64_t i = 0; i < half; ++i) {
            const C a = C(x1[i]), b = C(x2[i]), ci = C(c[i]), si = C(s[i]);
            y[i] = T(to_t(a * ci) - to_t(b * si));
            y[half + i] = T(to_t(b * ci) + to_t(a * si));
          }
        } else {
          for (int64_t i = 0; i < half; ++i) {
            const C a = C(row[i * col_stride]), b = C(row[(half + i) * col_stride]), ci = C(c[i]), si = C(s[i]);
            y[i] = T(to_t(a * ci) - to_t(b * si));
            y[half + i] = T(to_t(b * ci) + to_t(a * si));
          }
        }
      }
    }
  });
}

}  // namespace

void rotary(const View& x, const View& cos, const View& sin, const View& out) {
  switch (x.dtype) {
    case DType::Float32: return rotary_typed<float>(x, cos, sin, out);
    case DType::Float64: return rotary_typed<double>(x, cos, sin, out);
    case DType::BFloat16: return rotary_typed<BFloat16>(x, cos, sin, out);
    case DType::Float16: return rotary_typed<Half>(x, cos, sin, out);
    default: EMBER_FAIL("rotary_embedding", "expected a floating tensor, got {}", x.dtype);
  }
}

}  // namespace ember::cpu::EMBER_CPU_ISA
