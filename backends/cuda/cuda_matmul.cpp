// Batched matmul on CUDA: float32/float64/float16/bfloat16 through cublasGemmStridedBatchedEx (16-bit
// floats on tensor cores with float32 accumulation; float32 in strict IEEE float32, not TF32, like
// PyTorch's default), integers and bool with a plain kernel (kernels_reduce.cu).
//
// cuBLAS is column-major; ember is row-major. A row-major [r, c] matrix with row stride ld is the
// column-major [c, r] matrix (its transpose) with the same ld, so C = A B is computed as
// C^T = B^T A^T: cuBLAS's "A" is our b and its "B" is our a. A matrix whose columns are contiguous
// instead (a transposed view) is passed with op T. Anything else (general strides) is first copied to
// a contiguous buffer.
#include <optional>
#include <vector>

#include <ember/backends/cuda/kernels.h>
#include <ember/backends/cuda/runtime.h>
#include <ember/backends/backend.h>
#include <ember/core/error.h>
#include <ember/core/shape.h>

namespace ember::cuda {
namespace {

// How cuBLAS can read a row-major [rows, cols] matrix with element strides (rs, cs).
struct Layout {
  bool row_major;  // true: contiguous rows (ld = rs); false: contiguous columns (ld = cs)
  int64_t ld;
};
std::optional<Layout> layout_of(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  const int64_t r1 = std::max<int64_t>(rows, 1), c1 = std::max<int64_t>(cols, 1);
  if ((cs == 1 || cols <= 1) && (rows <= 1 || rs >= c1)) return Layout{true, rows <= 1 ? c1 : rs};
  if ((rs == 1 || rows <= 1) && (cols <= 1 || cs >= r1)) return Layout{false, cols <= 1 ? r1 : cs};
  return std::nullopt;
}

Strides dense_strides(std::span<const int64_t> shape) {
  Strides s(shape.size());
  int64_t acc = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

KView kview(const View& v) { return KView{v.data, v.dtype, static_cast<int>(v.ndim()), v.shape.data(), v.strides.data()}; }

int narrow_int(int64_t v, const char* what) {
  EMBER_CHECK(v <= INT32_MAX, "matmul", "{} = {} is over cuBLAS's 32-bit limit", what, v);
  return static_cast<int>(v);
}

// One (possibly strided-batched) GEMM over operands cuBLAS can read directly.
void gemm(const View& a, const View& b, const View& out, double alpha, double beta, int dev) {
  const int64_t nd = out.ndim();
  const int64_t m = out.shape[nd - 2], n = out.shape[nd - 1], k = a.shape[nd - 1];
  const Layout la = *layout_of(m, k, a.strides[nd - 2], a.strides[nd - 1]);
  const Layout lb = *layout_of(k, n, b.strides[nd - 2], b.strides[nd - 1]);
  const Layout lc = *layout_of(m, n, out.strides[nd - 2], out.strides[nd - 1]);

  // Batch dims, size-1 dims dropped and runs that are regular for all three operands merged.
  struct BatchDim {
    int64_t size, sa, sb, sc;
  };
  std::vector<BatchDim> dims;
  for (int64_t d = 0; d < nd - 2; ++d) {
    if (out.shape[d] == 1) continue;
    BatchDim cur{out.shape[d], a.strides[d], b.strides[d], out.strides[d]};
    if (!dims.empty()) {
      BatchDim& prev = dims.back();
      if (prev.sa == cur.sa * cur.size && prev.sb == cur.sb * cur.size && prev.sc == cur.sc * cur.size) {
        prev = {prev.size * cur.size, cur.sa, cur.sb, cur.sc};
        continue;
      }
    }
    dims.push_back(cur);
  }
  BatchDim last = dims.empty() ? BatchDim{1, 0, 0, 0} : dims.back();
  if (!dims.empty()) dims.pop_back();
  int64_t outer = 1;
  for (const BatchDim& d : dims) outer *= d.size;

  cudaDataType_t type;
  cublasComputeType_t compute;
  const float falpha = static_cast<float>(alpha), fbeta = static_cast<float>(beta);
  const void* palpha = &falpha;
  const void* pbeta = &fbeta;
  switch (out.dtype) {
    case DType::Float32: type = CUDA_R_32F; compute = CUBLAS_COMPUTE_32F; break;
    case DType::Float16: type = CUDA_R_16F; compute = CUBLAS_COMPUTE_32F; break;
    case DType::BFloat16: type = CUDA_R_16BF; compute = CUBLAS_COMPUTE_32F; break;
    default: type = CUDA_R_64F; compute = CUBLAS_COMPUTE_64F; palpha = &alpha; pbeta = &beta; break;
  }
  const size_t esize = dtype_size(out.dtype);
  cublasHandle_t h = cublas(dev);
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rem = o, oa = 0, ob = 0, oc = 0;
    for (size_t d = dims.size(); d-- > 0;) {
      const int64_t i = rem % dims[d].size;
      rem /= dims[d].size;
      oa += i * dims[d].sa;
      ob += i * dims[d].sb;
      oc += i * dims[d].sc;
    }
    const char* pa = static_cast<const char*>(a.data) + oa * esize;
    const char* pb = static_cast<const char*>(b.data) + ob * esize;
    char* pc = static_cast<char*>(out.data) + oc * esize;
    cublasStatus_t status;
    if (outer == 1 && last.size == 1) {  // one GEMM: the plain call, as a direct cuBLAS user makes it
      const bool rm = lc.row_major;  // C^T = B^T A^T, or C = A B (see gemm's comment above)
      const Layout& first = rm ? lb : la;
      const Layout& second = rm ? la : lb;
      status = cublasGemmEx(h, first.row_major == rm ? CUBLAS_OP_N : CUBLAS_OP_T,
                            second.row_major == rm ? CUBLAS_OP_N : CUBLAS_OP_T, narrow_int(rm ? n : m, "n"),
                            narrow_int(rm ? m : n, "m"), narrow_int(k, "k"), palpha, rm ? pb : pa, type,
                            narrow_int(first.ld, "ld"), rm ? pa : pb, type, narrow_int(second.ld, "ld"), pbeta, pc,
                            type, narrow_int(lc.ld, "ld"), compute, CUBLAS_GEMM_DEFAULT);
    } else if (lc.row_major) {  // C^T (col-major [n, m]) = B^T A^T
      status = cublasGemmStridedBatchedEx(
          h, lb.row_major ? CUBLAS_OP_N : CUBLAS_OP_T, la.row_major ? CUBLAS_OP_N : CUBLAS_OP_T, narrow_int(n, "n"),
          narrow_int(m, "m"), narrow_int(k, "k"), palpha, pb, type, narrow_int(lb.ld, "ld"), last.sb, pa, type,
          narrow_int(la.ld, "ld"), last.sa, pbeta, pc, type, narrow_int(lc.ld, "ld"), last.sc,
          narrow_int(last.size, "batch"), compute, CUBLAS_GEMM_DEFAULT);
    } else {  // C (col-major [m, n]) = A B
      status = cublasGemmStridedBatchedEx(
          h, la.row_major ? CUBLAS_OP_T : CUBLAS_OP_N, lb.row_major ? CUBLAS_OP_T : CUBLAS_OP_N, narrow_int(m, "m"),
          narrow_int(n, "n"), narrow_int(k, "k"), palpha, pa, type, narrow_int(la.ld, "ld"), last.sa, pb, type,
          narrow_int(lb.ld, "ld"), last.sb, pbeta, pc, type, narrow_int(lc.ld, "ld"), last.sc,
          narrow_int(last.size, "batch"), compute, CUBLAS_GEMM_DEFAULT);
    }
    check_cublas(status, "matmul", dev);
  }
}

}  // namespace

void matmul(const View& a, const View& b, const View& out, double alpha, double beta) {
  const int64_t nd = out.ndim();
  const int64_t m = out.shape[nd - 2], n = out.shape[nd - 1], k = a.shape[nd - 1];
  if (shape_numel(out.shape) == 0) return;
  const int dev = device_for(out.data);
  for (const View* v : {&a, &b, &out})
    if (v->numel() > 0 && device_of(v->data) != dev)
      EMBER_FAIL("matmul", "expected CUDA tensors on cuda:{}, got {} {} in host memory", dev, shape_str(v->shape), v->dtype);
  cudaStream_t s = stream(dev);
  const bool blas_type = out.dtype == DType::Float32 || out.dtype == DType::Float64 || out.dtype == DType::Float16 ||
                         out.dtype == DType::BFloat16;
  if (!blas_type || k == 0) {  // k == 0: out = beta * out, which the loop kernel does exactly
    launch_matmul_int(kview(a), kview(b), kview(out), alpha, beta, s);
    return check_launch("matmul", dev);
  }
  // Operands cuBLAS cannot read as they are are copied to contiguous buffers first.
  auto dense_copy = [&](const View& v, DeviceBuffer& buf, Strides& strides) -> View {
    strides = dense_strides(v.shape);
    View d{buf.get(), v.dtype, v.shape, strides};
    launch_copy(kview(v), kview(d), s);
    check_launch("matmul", dev);
    return d;
  };
  const size_t esize = dtype_size(out.dtype);
  const bool a_ok = layout_of(m, k, a.strides[nd - 2], a.strides[nd - 1]).has_value();
  const bool b_ok = layout_of(k, n, b.strides[nd - 2], b.strides[nd - 1]).has_value();
  const bool c_ok = layout_of(m, n, out.strides[nd - 2], out.strides[nd - 1]).has_value();
  DeviceBuffer abuf(a_ok ? 0 : a.numel() * esize, dev), bbuf(b_ok ? 0 : b.numel() * esize, dev),
      cbuf(c_ok ? 0 : out.numel() * esize, dev);
  Strides as, bs, cs;
  const View av = a_ok ? a : dense_copy(a, abuf, as);
  const View bv = b_ok ? b : dense_copy(b, bbuf, bs);
  if (c_ok) return gemm(av, bv, out, alpha, beta, dev);
  const View cv = beta == 0 ? View{cbuf.get(), out.dtype, out.shape, cs = dense_strides(out.shape)}
                            : dense_copy(out, cbuf, cs);
  gemm(av, bv, cv, alpha, beta, dev);
  launch_copy(kview(cv), kview(out), s);
  check_launch("matmul", dev);
}

}  // namespace ember::cuda
