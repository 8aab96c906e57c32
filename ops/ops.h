#pragma once
// Every public op. Users include <ember/ember.h>, which includes this.
#include "core/autograd.h"
#include "core/generator.h"
#include "core/tensor.h"
#include "ops/activation.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/index.h"
#include "ops/linalg.h"
#include "ops/loss.h"
#include "ops/norm.h"
#include "ops/op.h"
#include "ops/pool.h"
#include "ops/random.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/softmax.h"

namespace ember::detail {
Tensor relu_primitive(const Tensor& x);
Tensor sigmoid_primitive(const Tensor& x);
}  // namespace ember::detail
