#pragma once
// The scan kinds of Backend::cumulative: a running sum, product, or log of the running sum of
// exponentials. One list, which the backend table (backend.h) and the CUDA kernels both take; the
// step itself is in cumulative.h, which only the kernels include.
#include <cstdint>

namespace ember {

enum class CumulativeOp : uint8_t { Sum, Prod, LogSumExp };

}  // namespace ember
