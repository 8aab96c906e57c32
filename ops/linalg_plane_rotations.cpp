// Plane rotations for the iterative decompositions; see the header.
#include <ember/ops/linalg_plane_rotations.h>

#include <algorithm>

#include <ember/backends/cpu/host_kernels.h>
#include <ember/backends/cpu/loops.h>

namespace ember::linalg::detail {

void RotationLog::record(int64_t first, int64_t last, const HostVector& c, const HostVector& s) {
  if (!deferred_) {
    cpu::host_kernels().rotate_rows(w_, n_, first, last, c.data() + first, s.data() + first, 0, n_);
    return;
  }
  sweeps_.push_back({first, last, static_cast<int64_t>(c_.size())});
  c_.insert(c_.end(), c.begin() + first, c.begin() + last);
  s_.insert(s_.end(), s.begin() + first, s.begin() + last);
  if (static_cast<int64_t>(c_.size()) >= kCapacity) apply();
}

void RotationLog::apply() {
  if (sweeps_.empty()) return;
  const int64_t strips = (n_ + kStripWidth - 1) / kStripWidth;
  const int64_t cost_per_strip = static_cast<int64_t>(c_.size()) * kStripWidth * 6;
  const auto rotate_rows = cpu::host_kernels().rotate_rows;
  cpu::parallel_for(strips, cost_per_strip, [&](int64_t begin, int64_t end) {
    for (int64_t strip = begin; strip < end; ++strip) {
      const int64_t k0 = strip * kStripWidth, k1 = std::min(n_, k0 + kStripWidth);
      for (const Sweep& sweep : sweeps_)
        rotate_rows(w_, n_, sweep.first, sweep.last, c_.data() + sweep.offset, s_.data() + sweep.offset, k0, k1);
    }
  });
  sweeps_.clear();
  c_.clear();
  s_.clear();
}

}  // namespace ember::linalg::detail
