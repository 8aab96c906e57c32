#pragma once
// Every public op. Users include <ember/ember.h>, which includes this.
#include <ember/core/autograd.h>
#include <ember/core/generator.h>
#include <ember/core/tensor.h>
#include <ember/ops/activation.h>
#include <ember/ops/attention/attention.h>
#include <ember/ops/conv.h>
#include <ember/ops/decompositions.h>
#include <ember/ops/distance.h>
#include <ember/ops/einsum.h>
#include <ember/ops/elementwise.h>
#include <ember/ops/fft.h>
#include <ember/ops/index.h>
#include <ember/ops/linalg.h>
#include <ember/ops/matrix_functions.h>
#include <ember/ops/loss.h>
#include <ember/ops/lu.h>
#include <ember/ops/norm.h>
#include <ember/ops/op.h>
#include <ember/ops/pixel_shuffle.h>
#include <ember/ops/pool.h>
#include <ember/ops/random.h>
#include <ember/ops/reduce.h>
#include <ember/ops/shape.h>
#include <ember/ops/softmax.h>
#include <ember/ops/sort.h>
#include <ember/ops/ssm/hippo.h>
#include <ember/ops/ssm/selective_scan.h>

namespace ember::detail {
Tensor relu_primitive(const Tensor& x);
Tensor sigmoid_primitive(const Tensor& x);
Tensor gelu_primitive(const Tensor& x);  // x Phi(x), the exact (erf) GELU, one kernel each way
}  // namespace ember::detail
