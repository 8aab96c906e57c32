// W1 in 16 bits (docs/benchmarks.md): square GEMM C = A B for N = 1024, 2048, 4096 on 2 threads.
//   onednn       oneDNN's matmul called directly on bfloat16 buffers (float32 accumulation): the limit
//                ember's bfloat16 matmul is measured against (vs_onednn)
//   matmul       ember::matmul on bfloat16 tensors
//   matmul_f16   ember::matmul on float16 tensors (oneDNN where the CPU has AVX-512-FP16, else
//                widened to float32 for OpenBLAS)
//   matmul_f32   ember::matmul in float32: what bfloat16 buys (vs_f32 = its time over this one's)
//
//   w1_gemm_bf16            all sizes
//   w1_gemm_bf16 2048       only these sizes
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#if defined(EMBER_WITH_ONEDNN)
#include <dnnl.hpp>
#endif

#include <ember/backends/cpu/blas.h>
#include <ember/backends/cpu/onednn.h>
#include <ember/ops/ops.h>
#include "bench/bench_util.h"

namespace {

namespace bench = ember::bench;

double gflops(int64_t n, const bench::Timing& timing) {
  return 2.0 * double(n) * double(n) * double(n) / (timing.median_ms * 1e6);
}

#if defined(EMBER_WITH_ONEDNN)
bench::Timing time_onednn(int64_t n) {
  using dnnl::memory;
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::desc md({n, n}, memory::data_type::bf16, memory::format_tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(md, md, md), engine);
  dnnl::matmul product(pd);
  ember::Generator gen(1);
  const ember::Tensor a = ember::randn({n, n}, {}, &gen).to(ember::DType::BFloat16);
  const ember::Tensor b = ember::randn({n, n}, {}, &gen).to(ember::DType::BFloat16);
  ember::Tensor c = ember::Tensor::empty({n, n}, ember::DType::BFloat16);
  memory ma(md, engine, a.data_ptr()), mb(md, engine, b.data_ptr()), mc(md, engine, c.data_ptr());
  return bench::time_steps([&] {
    product.execute(stream, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    stream.wait();
  });
}
#endif

bench::Timing time_matmul(int64_t n, ember::DType dtype) {
  ember::Generator gen(1);
  const ember::Tensor a = ember::randn({n, n}, {}, &gen).to(dtype);
  const ember::Tensor b = ember::randn({n, n}, {}, &gen).to(dtype);
  return bench::time_steps([&] { bench::do_not_optimize(ember::matmul(a, b)); });
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {1024, 2048, 4096};
  if (argc > 1) sizes.clear();
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  ember::cpu::blas::set_num_threads(2);
  std::fprintf(stderr, "W1 16-bit: %s; %s; %d threads; cpu %s\n", ember::cpu::onednn::description().c_str(),
               ember::cpu::blas::kernel_description().c_str(), ember::cpu::blas::num_threads(),
               bench::cpu_model().c_str());
  for (int64_t n : sizes) {
    const std::string size = "/" + std::to_string(n);
    double onednn_gflops = 0;
#if defined(EMBER_WITH_ONEDNN)
    const bench::Timing direct = time_onednn(n);
    onednn_gflops = gflops(n, direct);
    bench::print_case("W1bf16/onednn" + size, direct, {{"gflops", onednn_gflops}});
#endif
    const bench::Timing f32 = time_matmul(n, ember::DType::Float32);
    const bench::Timing bf16 = time_matmul(n, ember::DType::BFloat16);
    std::vector<bench::Extra> extras = {{"gflops", gflops(n, bf16)}, {"vs_f32", bf16.median_ms / f32.median_ms}};
    if (onednn_gflops > 0) extras.push_back({"vs_onednn", gflops(n, bf16) / onednn_gflops});
    bench::print_case("W1bf16/matmul" + size, bf16, extras);
    const bench::Timing f16 = time_matmul(n, ember::DType::Float16);
    bench::print_case("W1bf16/matmul_f16" + size, f16,
                      {{"gflops", gflops(n, f16)}, {"vs_f32", f16.median_ms / f32.median_ms}});
    bench::print_case("W1bf16/matmul_f32" + size, f32, {{"gflops", gflops(n, f32)}});
  }
}
