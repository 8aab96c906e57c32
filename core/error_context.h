#pragma once
// An op written with other ops reports their errors as its own. A user who called linalg.pinv on a
// NaN matrix, or one_hot with 2^40 classes, reads
//   [linalg.pinv] the input contains non-finite values (NaN or inf); A is [2, 2] float32 (raised by linalg.svd)
// rather than an error from an op they never called. The inner op stays in the message, at its end.
#include <string>
#include <string_view>
#include <utility>

#include <ember/core/error.h>

namespace ember::detail {

// "[inner] message" as op's: "[op] message (raised by inner)". A message already attributed (by a
// deeper composite) keeps its innermost op; one naming op itself, or an internal error, is kept as it
// is; one that names no op (no "[name] " prefix) becomes "[op] message".
std::string attributed_to(std::string_view op, std::string_view message);

template <class F>
decltype(auto) reported_as(std::string_view op, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const Error& e) {
    throw Error(attributed_to(op, e.what()));
  }
}

}  // namespace ember::detail
