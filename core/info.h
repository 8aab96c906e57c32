#pragma once
#include <string>

namespace ember {

// One paragraph on this build: version, threads, the GEMM kernel in use, the CUDA backend.
std::string info();

}  // namespace ember
