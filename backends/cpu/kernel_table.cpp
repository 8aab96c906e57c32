// The Backend and HostKernels tables of one instruction set's kernels (compiled once per CpuIsa, like
// the kernels).
#include <ember/backends/cpu/kernels.h>
#include <ember/backends/cpu/onednn.h>
#include <ember/core/storage.h>

namespace ember::cpu::EMBER_CPU_ISA {

const Backend& kernel_table() {
  static const Backend table{
      .name = [] { return std::string("cpu"); },
      .allocate = [](size_t nbytes, Device) { return CpuAllocator::allocate(nbytes); },
      .deallocate = [](void* p, size_t nbytes, Device) { CpuAllocator::deallocate(p, nbytes); },
      .fill = fill,
      .copy = copy,
      .unary = unary,
      .binary = binary,
      .where = where,
      .reduce = reduce,
      .matmul = matmul,
      .cumulative = cumulative,
      .gather = gather,
      .scatter_add = scatter_add,
      .index_select = index_select,
      .index_add = index_add,
      .random = random,
      .index_range = index_range,
      .has_nonfinite = has_nonfinite,
      .im2col = im2col,
      .col2im = col2im,
      .max_pool2d = max_pool2d,
      .max_pool2d_backward = max_pool2d_backward,
      .conv2d_forward = onednn::conv2d_forward,
      .conv2d_backward_data = onednn::conv2d_backward_data,
      .conv2d_backward_weights = onednn::conv2d_backward_weights,
      .attention_forward = attention_forward,
      .attention_backward = attention_backward,
      .causal_linear_attention_forward = causal_linear_attention_forward,
      .causal_linear_attention_backward = causal_linear_attention_backward,
      .selective_scan_forward = selective_scan_forward,
      .selective_scan_backward = selective_scan_backward,
      .fft = fft,
      .adam_step = adam_step,
      .softmax_forward = softmax_forward,
      .softmax_backward = softmax_backward,
      .layer_norm_forward = layer_norm_forward,
      .layer_norm_backward = layer_norm_backward,
      .batch_norm_forward = batch_norm_forward,
      .batch_norm_backward = batch_norm_backward,
      .rotary = rotary,
  };
  return table;
}

const HostKernels& host_kernel_table() {
  static const HostKernels table{.rotate_rows = rotate_rows,
                                 .reduce_to_tridiagonal = reduce_to_tridiagonal,
                                 .reduce_to_tridiagonal_reference = reduce_to_tridiagonal_reference,
                                 .reflect_columns = reflect_columns,
                                 .reflect_rows = reflect_rows,
                                 .reflect_rows_reference = reflect_rows_reference,
                                 .column_dots = column_dots,
                                 .row_dots = row_dots};
  return table;
}

}  // namespace ember::cpu::EMBER_CPU_ISA
