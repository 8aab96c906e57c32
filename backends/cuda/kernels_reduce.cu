// CUDA reductions over any set of dims, running sums/products/log-sum-exps, index_range and the integer matmul.
//
// A reduction maps each output element o (the kept dims) to `inner` input elements (the reduced dims).
// Three plans, all deterministic (a fixed combination order that does not depend on timing):
//   Serial   inner <= 64: one thread per output walks its elements in order (the CPU's order too).
//   Block    one 256-thread block per output: thread t folds elements t, t + 256, ...; then a fixed
//            shared-memory tree combines the 256 partials.
//   TwoPass  few outputs with many elements each (a full sum): pass 1 splits every output's elements
//            into `chunks` contiguous ranges, one block each, writing partials to scratch; pass 2 is
//            the Block plan over those partials.
// Floating sums and products accumulate in double, integers in int64 (as on the CPU). Max/min carry
// (value, index): NaN wins, and between equal values (or two NaNs) the lower index wins, so the
// combination is order-independent and ArgMax/ArgMin return the first index, as the CPU does.
#include <climits>

#include <ember/backends/common/cumulative.h>
#include <ember/backends/cuda/common.cuh>

namespace ember::cuda {
namespace {

struct ReduceGeom {
  int nk = 0, nr = 0;  // kept and reduced dims
  int64_t kshape[kMaxDims], kin[kMaxDims], kout[kMaxDims];
  int64_t rshape[kMaxDims], rin[kMaxDims];
  int64_t outer = 1, inner = 1;

  __device__ __forceinline__ void kept_offsets(int64_t o, int64_t& in_off, int64_t& out_off) const {
    in_off = 0;
    out_off = 0;
    for (int d = nk - 1; d >= 0; --d) {
      const int64_t q = o / kshape[d], r = o - q * kshape[d];
      o = q;
      in_off += r * kin[d];
      out_off += r * kout[d];
    }
  }
  __device__ __forceinline__ int64_t reduced_offset(int64_t j) const {
    int64_t off = 0;
    for (int d = nr - 1; d >= 0; --d) {
      const int64_t q = j / rshape[d], r = j - q * rshape[d];
      j = q;
      off += r * rin[d];
    }
    return off;
  }
};

ReduceGeom make_geom(const KView& in, const KView& out, const int64_t* dims, int ndims) {
  ReduceGeom g;
  bool reduced[kMaxDims] = {};
  for (int i = 0; i < ndims; ++i) reduced[dims[i]] = true;
  for (int d = 0; d < in.ndim; ++d) {
    if (reduced[d]) {
      // fuse with the previous reduced dim when the two are one contiguous run
      if (g.nr > 0 && g.rin[g.nr - 1] == in.strides[d] * in.shape[d]) {
        g.rshape[g.nr - 1] *= in.shape[d];
        g.rin[g.nr - 1] = in.strides[d];
      } else {
        g.rshape[g.nr] = in.shape[d];
        g.rin[g.nr] = in.strides[d];
        ++g.nr;
      }
      g.inner *= in.shape[d];
    } else {
      g.kshape[g.nk] = in.shape[d];
      g.kin[g.nk] = in.strides[d];
      g.kout[g.nk] = out.strides[d];
      ++g.nk;
      g.outer *= in.shape[d];
    }
  }
  return g;
}

template <typename T>
struct Partial {
  acc_t<T> s;       // Sum, Prod
  compute_t<T> v;   // Max, Min, ArgMax, ArgMin
  int64_t i;        // index of v; -1 for "no element yet"
};

template <typename T>
__device__ __forceinline__ Partial<T> identity(KReduce op) {
  Partial<T> p;
  p.s = op == KReduce::Prod ? acc_t<T>(1) : acc_t<T>(0);
  p.v = compute_t<T>(0);
  p.i = -1;
  return p;
}

template <typename C>
__device__ __forceinline__ bool is_nan(C x) {
  if constexpr (std::is_floating_point_v<C>) return x != x;
  else return false;
}

// a and b are partials of disjoint element sets; the result does not depend on which is which for
// max/min (ties and NaNs go to the lower index). Sums and products are combined in the fixed order
// the plans call this in.
template <typename T>
__device__ __forceinline__ Partial<T> combine(KReduce op, Partial<T> a, const Partial<T>& b) {
  switch (op) {
    case KReduce::Sum: a.s = a.s + b.s; return a;
    case KReduce::Prod: a.s = a.s * b.s; return a;
    default: {
      if (b.i < 0) return a;
      if (a.i < 0) return b;
      const bool an = is_nan(a.v), bn = is_nan(b.v);
      if (an || bn) return (an && bn) ? (a.i < b.i ? a : b) : (an ? a : b);
      if (a.v == b.v) return a.i < b.i ? a : b;
      const bool is_max = op == KReduce::Max || op == KReduce::ArgMax;
      return (is_max ? b.v > a.v : b.v < a.v) ? b : a;
    }
  }
}

template <typename T>
__device__ __forceinline__ Partial<T> leaf(T x, int64_t j) {
  using C = compute_t<T>;
  Partial<T> p;
  p.v = static_cast<C>(x);
  p.s = static_cast<acc_t<T>>(p.v);
  p.i = j;
  return p;
}

template <typename T>
__device__ __forceinline__ void write_result(KReduce op, const Partial<T>& p, void* out, int64_t off) {
  using C = compute_t<T>;
  if (op == KReduce::ArgMax || op == KReduce::ArgMin) {
    static_cast<int64_t*>(out)[off] = p.i < 0 ? 0 : p.i;
  } else if (op == KReduce::Sum || op == KReduce::Prod) {
    static_cast<T*>(out)[off] = T(static_cast<C>(p.s));
  } else {
    static_cast<T*>(out)[off] = T(p.v);
  }
}

template <typename T>
__global__ void reduce_serial(KReduce op, ReduceGeom g, const T* in, void* out) {
  EMBER_GRID_STRIDE(o, g.outer) {
    int64_t in_off, out_off;
    g.kept_offsets(o, in_off, out_off);
    Partial<T> acc = identity<T>(op);
    for (int64_t j = 0; j < g.inner; ++j) acc = combine(op, acc, leaf(in[in_off + g.reduced_offset(j)], j));
    write_result(op, acc, out, out_off);
  }
}

// Folds a block's partials with a fixed tree; the result is in sh[0].
template <typename T>
__device__ __forceinline__ void block_tree(KReduce op, Partial<T>* sh) {
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (static_cast<int>(threadIdx.x) < stride) sh[threadIdx.x] = combine(op, sh[threadIdx.x], sh[threadIdx.x + stride]);
    __syncthreads();
  }
}

// Block plan over elements [begin, end) of output o's reduced index range.
template <typename T>
__device__ Partial<T> block_fold(KReduce op, const ReduceGeom& g, const T* base, int64_t begin, int64_t end,
                                 Partial<T>* sh) {
  Partial<T> acc = identity<T>(op);
  for (int64_t j = begin + threadIdx.x; j < end; j += kThreads) acc = combine(op, acc, leaf(base[g.reduced_offset(j)], j));
  sh[threadIdx.x] = acc;
  __syncthreads();
  block_tree(op, sh);
  Partial<T> r = sh[0];
  __syncthreads();  // sh is reused by the next output
  return r;
}

template <typename T>
__global__ void reduce_block(KReduce op, ReduceGeom g, const T* in, void* out) {
  __shared__ Partial<T> sh[kThreads];
  for (int64_t o = blockIdx.x; o < g.outer; o += gridDim.x) {
    int64_t in_off, out_off;
    g.kept_offsets(o, in_off, out_off);
    const Partial<T> r = block_fold(op, g, in + in_off, 0, g.inner, sh);
    if (threadIdx.x == 0) write_result(op, r, out, out_off);
  }
}

// Pass 1: block (c, o) folds chunk c of output o into partials[o * chunks + c].
template <typename T>
__global__ void reduce_chunks(KReduce op, ReduceGeom g, const T* in, Partial<T>* partials, int64_t chunks,
                              int64_t chunk_len) {
  __shared__ Partial<T> sh[kThreads];
  const int64_t c = blockIdx.x;
  for (int64_t o = blockIdx.y; o < g.outer; o += gridDim.y) {
    int64_t in_off, out_off;
    g.kept_offsets(o, in_off, out_off);
    const int64_t begin = c * chunk_len, end = begin + chunk_len < g.inner ? begin + chunk_len : g.inner;
    const Partial<T> r = block_fold(op, g, in + in_off, begin, end, sh);
    if (threadIdx.x == 0) partials[o * chunks + c] = r;
  }
}

// Pass 2: one block per output folds its `chunks` partials in the block plan's fixed order.
template <typename T>
__global__ void reduce_partials(KReduce op, ReduceGeom g, const Partial<T>* partials, int64_t chunks, void* out) {
  __shared__ Partial<T> sh[kThreads];
  for (int64_t o = blockIdx.x; o < g.outer; o += gridDim.x) {
    int64_t in_off, out_off;
    g.kept_offsets(o, in_off, out_off);
    Partial<T> acc = identity<T>(op);
    for (int64_t c = threadIdx.x; c < chunks; c += kThreads) acc = combine(op, acc, partials[o * chunks + c]);
    sh[threadIdx.x] = acc;
    __syncthreads();
    block_tree(op, sh);
    if (threadIdx.x == 0) write_result(op, sh[0], out, out_off);
    __syncthreads();
  }
}

enum class Plan { Serial, Block, TwoPass };
struct PlanInfo {
  Plan plan;
  int64_t chunks = 1, chunk_len = 0;
};

PlanInfo plan_for(const ReduceGeom& g) {
  if (g.inner <= 64) return {Plan::Serial};
  // Under ~2 blocks per multiprocessor of outputs, with a lot to fold each: split the folding.
  if (g.outer < 256 && g.inner >= 65536) {
    const int64_t chunk_len = 16 * kThreads;  // 16 elements per thread per chunk
    int64_t chunks = (g.inner + chunk_len - 1) / chunk_len;
    int64_t len = chunk_len;
    if (chunks > 4096) {  // cap the scratch; longer chunks instead
      chunks = 4096;
      len = (g.inner + chunks - 1) / chunks;
    }
    return {Plan::TwoPass, chunks, len};
  }
  return {Plan::Block};
}

template <typename T>
__global__ void cumulative_kernel(CumulativeOp op, ReduceGeom g, const T* in, T* out, int64_t n, int64_t si,
                                  int64_t so) {
  using C = compute_t<T>;
  EMBER_GRID_STRIDE(line, g.outer) {
    int64_t in_off, out_off;
    g.kept_offsets(line, in_off, out_off);
    acc_t<T> acc = static_cast<acc_t<T>>(static_cast<C>(in[in_off]));
    out[out_off] = T(static_cast<C>(acc));
    for (int64_t j = 1; j < n; ++j) {
      acc = cumulative::combine(op, acc, static_cast<acc_t<T>>(static_cast<C>(in[in_off + j * si])));
      out[out_off + j * so] = T(static_cast<C>(acc));
    }
  }
}

template <typename T>
__global__ void minmax_kernel(Strided<1> g, int64_t n, const T* in, long long* minmax) {
  long long lo = LLONG_MAX, hi = LLONG_MIN;
  EMBER_GRID_STRIDE(i, n) {
    int64_t off[1];
    g.offsets(i, off);
    const long long v = static_cast<long long>(in[off[0]]);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  for (int delta = 16; delta > 0; delta >>= 1) {  // warp reduction, then one atomic per warp
    const long long olo = __shfl_down_sync(0xffffffffu, lo, delta);
    const long long ohi = __shfl_down_sync(0xffffffffu, hi, delta);
    lo = olo < lo ? olo : lo;
    hi = ohi > hi ? ohi : hi;
  }
  if ((threadIdx.x & 31) == 0) {
    atomicMin(&minmax[0], lo);
    atomicMax(&minmax[1], hi);
  }
}

__global__ void minmax_init(long long* minmax) {
  minmax[0] = LLONG_MAX;
  minmax[1] = LLONG_MIN;
}

struct MatGeom {
  int nb = 0;
  int64_t bshape[kMaxDims], bstride[3][kMaxDims];
  int64_t batches = 1, m = 0, n = 0, k = 0;
  int64_t ars, acs, brs, bcs, crs, ccs;
};

// c = alpha * a @ b + beta * c, one thread per output element, as the CPU's gemm_loop.
template <typename T>
__global__ void matmul_loop(MatGeom g, const T* a, const T* b, T* c, double alpha, double beta) {
  using Acc = std::conditional_t<std::is_floating_point_v<compute_t<T>>, double, int64_t>;
  const int64_t total = g.batches * g.m * g.n;
  EMBER_GRID_STRIDE(idx, total) {
    const int64_t j = idx % g.n, i = (idx / g.n) % g.m;
    int64_t bi = idx / (g.n * g.m), oa = 0, ob = 0, oc = 0;
    for (int d = g.nb - 1; d >= 0; --d) {
      const int64_t r = bi % g.bshape[d];
      bi /= g.bshape[d];
      oa += r * g.bstride[0][d];
      ob += r * g.bstride[1][d];
      oc += r * g.bstride[2][d];
    }
    Acc acc = 0;
    for (int64_t p = 0; p < g.k; ++p)
      acc += static_cast<Acc>(static_cast<compute_t<T>>(a[oa + i * g.ars + p * g.acs])) *
             static_cast<Acc>(static_cast<compute_t<T>>(b[ob + p * g.brs + j * g.bcs]));
    T& dst = c[oc + i * g.crs + j * g.ccs];
    const double prev = beta == 0 ? 0.0 : beta * static_cast<double>(static_cast<compute_t<T>>(dst));
    dst = T(static_cast<compute_t<T>>(alpha * static_cast<double>(acc) + prev));
  }
}

}  // namespace

size_t reduce_scratch_bytes(KReduce op, const KView& in, const int64_t* dims, int ndims) {
  const ReduceGeom g = make_geom(in, in, dims, ndims);
  const PlanInfo p = plan_for(g);
  if (p.plan != Plan::TwoPass) return 0;
  size_t bytes = 0;
  visit_dtype(in.dtype, [&](auto tag) { bytes = sizeof(Partial<decltype(tag)>) * p.chunks * g.outer; });
  return bytes;
}

void launch_reduce(KReduce op, const KView& in, const KView& out, const int64_t* dims, int ndims, void* scratch,
                   cudaStream_t s) {
  const ReduceGeom g = make_geom(in, out, dims, ndims);
  if (g.outer == 0) return;
  const PlanInfo p = plan_for(g);
  visit_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(in.data);
    const unsigned outer_blocks = static_cast<unsigned>(std::min<int64_t>(g.outer, 65535 * 8));
    switch (p.plan) {
      case Plan::Serial: reduce_serial<T><<<grid_for(g.outer), kThreads, 0, s>>>(op, g, src, out.data); break;
      case Plan::Block: reduce_block<T><<<outer_blocks, kThreads, 0, s>>>(op, g, src, out.data); break;
      case Plan::TwoPass: {
        auto* partials = static_cast<Partial<T>*>(scratch);
        const dim3 grid(static_cast<unsigned>(p.chunks), static_cast<unsigned>(std::min<int64_t>(g.outer, 65535)));
        reduce_chunks<T><<<grid, kThreads, 0, s>>>(op, g, src, partials, p.chunks, p.chunk_len);
        reduce_partials<T><<<outer_blocks, kThreads, 0, s>>>(op, g, partials, p.chunks, out.data);
        break;
      }
    }
  });
}

void launch_cumulative(CumulativeOp op, const KView& in, const KView& out, int dim, cudaStream_t s) {
  const int64_t d[1] = {dim};
  const ReduceGeom g = make_geom(in, out, d, 1);  // kept dims = the lines; dim is walked in order
  if (g.outer == 0 || in.shape[dim] == 0) return;
  visit_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    cumulative_kernel<T><<<grid_for(g.outer), kThreads, 0, s>>>(op, g, static_cast<const T*>(in.data),
                                                                static_cast<T*>(out.data), in.shape[dim],
                                                                in.strides[dim], out.strides[dim]);
  });
}

bool launch_index_range(const KView& index, int64_t* minmax, cudaStream_t s) {
  bool launched = false;
  visit_dtype(index.dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {  // bool too, as on the CPU
      const KView* views[1] = {&index};
      const Strided<1> g = make_strided<1>(views);
      auto* mm = reinterpret_cast<long long*>(minmax);
      minmax_init<<<1, 1, 0, s>>>(mm);
      const int64_t n = index.numel();
      minmax_kernel<T><<<std::min(grid_for(n), 1024u), kThreads, 0, s>>>(g, n, static_cast<const T*>(index.data), mm);
      launched = true;
    }
  });
  return launched;
}

void launch_matmul_int(const KView& a, const KView& b, const KView& out, double alpha, double beta, cudaStream_t s) {
  MatGeom g;
  const int nd = out.ndim;
  g.nb = nd - 2;
  for (int d = 0; d < g.nb; ++d) {
    g.bshape[d] = out.shape[d];
    g.bstride[0][d] = a.strides[d];
    g.bstride[1][d] = b.strides[d];
    g.bstride[2][d] = out.strides[d];
    g.batches *= out.shape[d];
  }
  g.m = out.shape[nd - 2];
  g.n = out.shape[nd - 1];
  g.k = a.shape[nd - 1];
  g.ars = a.strides[nd - 2], g.acs = a.strides[nd - 1];
  g.brs = b.strides[nd - 2], g.bcs = b.strides[nd - 1];
  g.crs = out.strides[nd - 2], g.ccs = out.strides[nd - 1];
  const int64_t total = g.batches * g.m * g.n;
  if (total == 0) return;
  visit_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    matmul_loop<T><<<grid_for(total), kThreads, 0, s>>>(g, static_cast<const T*>(a.data), static_cast<const T*>(b.data),
                                                        static_cast<T*>(out.data), alpha, beta);
  });
}

}  // namespace ember::cuda
