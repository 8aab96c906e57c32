// oneDNN's matmul for 16-bit GEMM (see onednn.h). Primitives are cached by shape, strides, dtype,
// alpha, beta and the thread count they are planned for: creating one (choosing and JIT-compiling a
// kernel) costs far more than a small product, and a training loop asks for the same few shapes
// every step.
#include <ember/backends/cpu/onednn.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <omp.h>

#include <fmt/format.h>

#include <ember/backends/cpu/gemm_blocking.h>
#include <ember/backends/cpu/loops.h>
#include <ember/backends/cpu/one_thread.h>
#include <ember/core/storage.h>

#if defined(EMBER_WITH_ONEDNN)
#include <dnnl.hpp>
#endif

namespace ember::cpu::onednn {

namespace {
std::atomic<bool> g_switched_on{true};

[[maybe_unused]] bool environment_allows() {
  static const bool allowed = [] {
    const char* v = std::getenv("EMBER_ONEDNN");
    return !(v && (std::strcmp(v, "off") == 0 || std::strcmp(v, "0") == 0));
  }();
  return allowed;
}
}  // namespace

void set_enabled(bool on) { g_switched_on = on; }

#if defined(EMBER_WITH_ONEDNN)

namespace {

using dt = dnnl::memory::data_type;

struct Engine {
  dnnl::engine engine;
  bool ok = false;
  std::string error;
};

const Engine& cpu_engine() {
  static const Engine e = [] {
    Engine r;
    try {
      r.engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
      r.ok = true;
    } catch (const dnnl::error& err) {
      r.error = err.what();
    }
    return r;
  }();
  return e;
}

// One operand as oneDNN sees it: dims and element strides, batch dims that repeat one matrix
// (stride 0, from broadcasting) given as size 1, which oneDNN's matmul broadcasts itself.
struct Operand {
  dnnl::memory::dims dims, strides;
};
Operand describe(const View& v, int64_t nd) {
  Operand o;
  for (int64_t d = 0; d < nd; ++d) {
    const bool broadcast = d < nd - 2 && v.strides[d] == 0;
    o.dims.push_back(broadcast ? 1 : v.shape[d]);
    o.strides.push_back(broadcast ? 0 : v.strides[d]);
  }
  return o;
}

// The last two dims can be read as a row- or column-major matrix with a leading dimension, the
// layouts oneDNN's JIT kernels take; anything else is copied to a dense operand first.
bool plain_matrix(const Operand& o) {
  const size_t nd = o.dims.size();
  const int64_t rows = o.dims[nd - 2], cols = o.dims[nd - 1], rs = o.strides[nd - 2], cs = o.strides[nd - 1];
  const bool row_major = (cs == 1 || cols == 1) && (rows == 1 || rs >= cols);
  const bool col_major = (rs == 1 || rows == 1) && (cols == 1 || cs >= rows);
  return row_major || col_major;
}

dnnl::memory::dims dense_strides(const dnnl::memory::dims& dims) {
  dnnl::memory::dims s(dims.size());
  int64_t step = 1;
  for (size_t d = dims.size(); d-- > 0;) {
    s[d] = step;
    step *= std::max<int64_t>(dims[d], 1);
  }
  return s;
}

// Copies a 2-byte operand (with its broadcast dims already of size 1) to dense row-major storage.
std::vector<uint16_t> densify(const View& v, const Operand& o) {
  const int64_t total = [&] {
    int64_t t = 1;
    for (auto d : o.dims) t *= d;
    return t;
  }();
  std::vector<uint16_t> dense(static_cast<size_t>(total));
  const uint16_t* src = static_cast<const uint16_t*>(v.data);
  const size_t nd = o.dims.size();
  std::vector<int64_t> index(nd, 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t offset = 0;
    for (size_t d = 0; d < nd; ++d) offset += index[d] * o.strides[d];
    dense[static_cast<size_t>(i)] = src[offset];
    for (size_t d = nd; d-- > 0;) {
      if (++index[d] < o.dims[d]) break;
      index[d] = 0;
    }
  }
  return dense;
}

struct CacheKey {
  std::vector<int64_t> fields;
  bool operator<(const CacheKey& other) const { return fields < other.fields; }
};

// A created primitive, or none where oneDNN has only its reference kernel (slower than float32
// OpenBLAS) or nothing at all for this problem, and the scratch memory it needs, supplied per call:
// a primitive's own scratchpad would be shared by every thread that runs the cached primitive.
struct Cached {
  std::shared_ptr<dnnl::matmul> primitive;
  dnnl::memory::desc scratch;
};

std::mutex g_cache_mutex;
std::map<CacheKey, Cached> g_cache;
constexpr size_t kCacheCapacity = 512;

Cached create(dt type, const Operand& a, const Operand& b, const Operand& c, double alpha, double beta,
              std::string* impl = nullptr) {
  try {
    const dnnl::memory::desc ad(a.dims, type, a.strides), bd(b.dims, type, b.strides), cd(c.dims, type, c.strides);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (alpha != 1.0) attr.set_output_scales(0, {static_cast<float>(alpha)});
    if (beta != 0.0) {
      dnnl::post_ops ops;
      ops.append_sum(static_cast<float>(beta));
      attr.set_post_ops(ops);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ad, bd, cd), attr, cpu_engine().engine);
    const std::string name = pd.impl_info_str();
    if (impl) *impl = name;
    if (name.rfind("ref", 0) == 0) return {};
    return {std::make_shared<dnnl::matmul>(pd), pd.scratchpad_desc()};
  } catch (const dnnl::error& err) {
    if (impl) *impl = fmt::format("none ({})", err.what());
    return {};
  }
}

Cached lookup(dt type, const Operand& a, const Operand& b, const Operand& c, double alpha, double beta) {
  CacheKey key;
  key.fields.push_back(static_cast<int64_t>(type));
  key.fields.push_back(omp_get_max_threads());  // the thread count the kernel is planned for
  for (const Operand* o : {&a, &b, &c}) {
    key.fields.insert(key.fields.end(), o->dims.begin(), o->dims.end());
    key.fields.insert(key.fields.end(), o->strides.begin(), o->strides.end());
  }
  int64_t bits[2];
  std::memcpy(&bits[0], &alpha, 8);
  std::memcpy(&bits[1], &beta, 8);
  key.fields.insert(key.fields.end(), bits, bits + 2);
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  auto it = g_cache.find(key);
  if (it != g_cache.end()) return it->second;
  if (g_cache.size() >= kCacheCapacity) g_cache.clear();
  Cached created = create(type, a, b, c, alpha, beta);
  g_cache.emplace(std::move(key), created);
  return created;
}

}  // namespace

const dnnl::engine& detail::engine() { return cpu_engine().engine; }

bool built() { return cpu_engine().ok; }
bool enabled() { return g_switched_on && environment_allows() && built(); }

std::string description() {
  if (!environment_allows()) return "oneDNN switched off (EMBER_ONEDNN=off)";
  if (!built()) return fmt::format("oneDNN unusable: {}", cpu_engine().error);
  const dnnl_version_t* v = dnnl_version();
  auto kernel = [](dt type) {
    const Operand m{{64, 64}, {64, 1}};
    std::string impl;
    return create(type, m, m, m, 1.0, 0.0, &impl).primitive ? impl
                                                           : std::string("widened to float32 (no oneDNN kernel on this CPU)");
  };
  return fmt::format("oneDNN {}.{}.{} (bfloat16 GEMM: {}; float16 GEMM: {}; convolution: float32 {}, bfloat16 {})",
                     v->major, v->minor, v->patch, kernel(dt::bf16), kernel(dt::f16),
                     convolution_kernel(DType::Float32), convolution_kernel(DType::BFloat16));
}

bool matmul(const View& a, const View& b, const View& out, double alpha, double beta) {
  if (!is_16bit_float(out.dtype)) return false;
  if (a.dtype != out.dtype || b.dtype != out.dtype || !enabled()) return false;
  const int64_t nd = out.ndim();
  if (nd < 2 || nd > DNNL_MAX_NDIMS || out.numel() == 0 || a.shape[nd - 1] == 0) return false;
  const dt type = out.dtype == DType::BFloat16 ? dt::bf16 : dt::f16;
  Operand oa = describe(a, nd), ob = describe(b, nd), oc;
  for (int64_t d = 0; d < nd; ++d) {
    if (out.strides[d] <= 0 && out.shape[d] > 1) return false;  // every element of C written once
    oc.dims.push_back(out.shape[d]);
    oc.strides.push_back(out.strides[d]);
  }
  if (!plain_matrix(oc)) return false;
  std::vector<uint16_t> dense_a, dense_b;
  const void* pa = a.data;
  const void* pb = b.data;
  if (!plain_matrix(oa)) {
    dense_a = densify(a, oa);
    oa.strides = dense_strides(oa.dims);
    pa = dense_a.data();
  }
  if (!plain_matrix(ob)) {
    dense_b = densify(b, ob);
    ob.strides = dense_strides(ob.dims);
    pb = dense_b.data();
  }
  // oneDNN's own threading splits the k sum among threads for some shapes (A stored transposed,
  // a long k, a narrow C: a weight gradient x^T g), which makes the bits depend on the thread
  // count. So ember cuts the work itself, as for float32 GEMM (gemm_blocking.h): C's last two dims
  // into the fixed grid of blocks, its first batch dim of more than one into at most
  // kTargetBlocks fixed chunks, every unit computed by a kernel planned for one thread over the
  // whole of k. The cut depends on the sizes alone; the threads only decide who computes what.
  const int64_t m = oc.dims[nd - 2], n = oc.dims[nd - 1], k = a.shape[nd - 1];
  const Blocking blocking = gemm_blocking(m, n, k);
  int64_t split_dim = -1, chunk = 1, chunks = 1;
  for (int64_t d = 0; d + 2 < nd && split_dim < 0; ++d) {
    if (oc.dims[d] > 1) {
      split_dim = d;
      chunk = (oc.dims[d] + kTargetBlocks - 1) / kTargetBlocks;
      chunks = (oc.dims[d] + chunk - 1) / chunk;
    }
  }
  struct Unit {
    Operand a, b, c;
    int64_t a_offset, b_offset, c_offset;  // in elements
  };
  const int64_t units = chunks * blocking.count();
  auto unit = [&](int64_t i) {
    const int64_t block = i % blocking.count(), part = i / blocking.count();
    const int64_t r0 = block / blocking.col_blocks * blocking.rows, c0 = block % blocking.col_blocks * blocking.cols;
    Unit u{oa, ob, oc, r0 * oa.strides[nd - 2], c0 * ob.strides[nd - 1], r0 * oc.strides[nd - 2] + c0 * oc.strides[nd - 1]};
    u.a.dims[nd - 2] = u.c.dims[nd - 2] = std::min(blocking.rows, m - r0);
    u.b.dims[nd - 1] = u.c.dims[nd - 1] = std::min(blocking.cols, n - c0);
    if (split_dim >= 0) {
      const int64_t b0 = part * chunk, size = std::min(chunk, oc.dims[split_dim] - b0);
      for (Operand* o : {&u.a, &u.b, &u.c}) {  // a broadcast operand has size 1 and stride 0 there
        if (o->dims[split_dim] > 1) o->dims[split_dim] = size;
      }
      u.a_offset += b0 * oa.strides[split_dim];
      u.b_offset += b0 * ob.strides[split_dim];
      u.c_offset += b0 * oc.strides[split_dim];
    }
    return u;
  };
  // A unit's shape is one of at most eight (a full or a last row block, column block, batch chunk).
  // Their kernels are made (or found in the cache) for one thread before any unit runs: where oneDNN
  // declines one, nothing has been written.
  auto shape_index = [&](int64_t i) {
    const int64_t block = i % blocking.count(), part = i / blocking.count();
    return int((block / blocking.col_blocks == blocking.row_blocks - 1) ? 1 : 0) +
           int((block % blocking.col_blocks == blocking.col_blocks - 1) ? 2 : 0) + int(part == chunks - 1 ? 4 : 0);
  };
  std::array<Cached, 8> plans;
  {
    OneOpenMpThread one_thread;
    std::array<bool, 8> made{};
    for (int64_t i = 0; i < units; ++i) {
      const int shape = shape_index(i);
      if (made[shape]) continue;
      const Unit u = unit(i);
      plans[shape] = lookup(type, u.a, u.b, u.c, alpha, beta);
      if (!plans[shape].primitive) return false;
      made[shape] = true;
    }
  }
  const dnnl::engine& engine = cpu_engine().engine;
  const char* base_a = static_cast<const char*>(pa);
  const char* base_b = static_cast<const char*>(pb);
  char* base_c = static_cast<char*>(out.data);
  const size_t element = dtype_size(out.dtype);
  auto run_unit = [&](int64_t i) {
    const Unit u = unit(i);
    const Cached& plan = plans[shape_index(i)];
    dnnl::memory ma({u.a.dims, type, u.a.strides}, engine, const_cast<char*>(base_a + u.a_offset * element));
    dnnl::memory mb({u.b.dims, type, u.b.strides}, engine, const_cast<char*>(base_b + u.b_offset * element));
    dnnl::memory mc({u.c.dims, type, u.c.strides}, engine, base_c + u.c_offset * element);
    // From ember's caching allocator: the same blocks every step, not fresh pages to fault in.
    const size_t scratch_bytes = std::max<size_t>(plan.scratch.get_size(), 1);
    std::unique_ptr<void, std::function<void(void*)>> scratch(
        CpuAllocator::allocate(scratch_bytes), [scratch_bytes](void* p) { CpuAllocator::deallocate(p, scratch_bytes); });
    dnnl::memory ms(plan.scratch, engine, scratch.get());
    dnnl::stream stream(engine);
    plan.primitive->execute(stream, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}, {DNNL_ARG_SCRATCHPAD, ms}});
    stream.wait();
  };
  const double multiply_adds = double(out.numel()) * double(k);
  if (units == 1 || omp_get_max_threads() == 1 || omp_in_parallel() || !gemm_worth_threads(multiply_adds)) {
    for (int64_t i = 0; i < units; ++i) run_unit(i);
    return true;
  }
  std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < units; ++i) {
    try {
      run_unit(i);
    } catch (...) {
#pragma omp critical(ember_onednn_matmul)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
  return true;
}

#else  // built without oneDNN

bool built() { return false; }
bool enabled() { return false; }
std::string description() { return "ember was built without oneDNN (libdnnl-dev not found)"; }
bool matmul(const View&, const View&, const View&, double, double) { return false; }
bool conv2d_forward(const View&, const View&, const View*, const View&, const Window2d&) { return false; }
bool conv2d_backward_data(const View&, const View&, const View&, const Window2d&) { return false; }
bool conv2d_backward_weights(const View&, const View&, const View&, const Window2d&) { return false; }
std::string convolution_kernel(DType) { return "not built"; }

#endif

}  // namespace ember::cpu::onednn
