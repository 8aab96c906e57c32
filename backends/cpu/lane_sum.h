#pragma once
// A sum of n terms kept in kSumLanes partial sums (term i goes to lane i mod kSumLanes, the tail
// straight to the total) that are combined in a fixed order: the lanes are independent, so the loop
// vectorises, and the bits depend on n alone, never on how threads split the work. For the
// per-instruction-set kernel files, like kernels.h.
#include <cstdint>

#if !defined(EMBER_CPU_ISA)
#error "backends/cpu/lane_sum.h is for the per-instruction-set kernel files (EMBER_CPU_ISA unset)"
#endif

namespace ember::cpu::EMBER_CPU_ISA {

constexpr int64_t kSumLanes = 16;

// sum of term(i) over [0, n), each term converted to Acc before it is added
template <typename Acc, typename Term>
inline Acc lane_sum(int64_t n, Term term) {
  Acc lanes[kSumLanes] = {};
  int64_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes)
    for (int64_t l = 0; l < kSumLanes; ++l) lanes[l] += static_cast<Acc>(term(i + l));
  Acc total = 0;
  for (; i < n; ++i) total += static_cast<Acc>(term(i));
  for (Acc lane : lanes) total += lane;
  return total;
}

}  // namespace ember::cpu::EMBER_CPU_ISA
