// einsum (ops/einsum.h) as a composite of differentiable views, sums and matmul: every subscript
// becomes a label, repeated labels within an operand become diagonal views, and the operands are
// contracted left to right, each pair as one (batched) matmul, so gradients of any order come from
// those ops' own backward formulas.
#include <ember/ops/einsum.h>

#include <algorithm>
#include <string>
#include <vector>

#include <ember/ops/ops.h>

namespace ember {
namespace {

constexpr const char* kOp = "einsum";
// Labels 0-25 are 'A'-'Z' and 26-51 'a'-'z', so that ascending label order is PyTorch's (ASCII)
// order for the implicit output. The dims an ellipsis stands for are labels 52 on, aligned to the
// right across operands as broadcasting aligns them.
constexpr int kLetters = 52;
constexpr int kEllipsis = -1;  // where "..." sits in a parsed term

bool is_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
int label_of(char c) { return c <= 'Z' ? c - 'A' : c - 'a' + 26; }

std::string label_name(int label) {
  if (label < kLetters) return fmt::format("subscript {}", label < 26 ? char('A' + label) : char('a' + label - 26));
  return fmt::format("ellipsis dim {}", label - kLetters);
}

// The equation and the operands, as every error message shows them.
struct Call {
  std::string_view equation;
  std::span<const Tensor> operands;

  std::string where() const {
    std::vector<std::string> ops;
    for (const Tensor& t : operands)
      ops.push_back(t.defined() ? fmt::format("{} {} {}", shape_str(t.shape()), t.dtype(), t.device()) : "undefined");
    return fmt::format("equation \"{}\", operands ({})", equation, fmt::join(ops, "; "));
  }
};

struct Equation {
  std::vector<std::vector<int>> inputs;  // the labels of each input term, kEllipsis for "..."
  std::vector<int> output;
  bool explicit_output = false;  // there is a "->"
};

std::string term_name(const Equation& eq) {
  return eq.explicit_output ? std::string("the output") : fmt::format("operand {}", eq.inputs.size() - 1);
}

Equation parse(const Call& call) {
  const std::string_view s = call.equation;
  Equation eq;
  eq.inputs.emplace_back();
  std::vector<int>* term = &eq.inputs.back();
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ') continue;
    if (is_letter(c)) {
      term->push_back(label_of(c));
    } else if (c == '.') {
      EMBER_CHECK(std::find(term->begin(), term->end(), kEllipsis) == term->end(), kOp,
                  "'.' at index {} is a second ellipsis in the term of {} (at most one is allowed); {}", i,
                  term_name(eq), call.where());
      EMBER_CHECK(s.substr(i, 3) == "...", kOp, "'.' at index {} is not part of an ellipsis \"...\"; {}", i,
                  call.where());
      term->push_back(kEllipsis);
      i += 2;
    } else if (c == ',' && !eq.explicit_output) {
      term = &eq.inputs.emplace_back();
    } else if (c == '-' && !eq.explicit_output && s.substr(i, 2) == "->") {
      eq.explicit_output = true;
      term = &eq.output;
      ++i;
    } else {
      const bool printable = c >= 0x20 && c < 0x7f;
      EMBER_FAIL(kOp,
                 "invalid character {} at index {} of the equation: subscripts are the letters a-z and A-Z{}; {}",
                 printable ? fmt::format("'{}'", c) : fmt::format("byte 0x{:02x}", static_cast<unsigned char>(c)), i,
                 c == ',' || c == '-' ? ", and the equation has at most one \"->\" with one term after it" : "",
                 call.where());
    }
  }
  return eq;
}

// Sums x over the dims whose labels `drop` picks, removing them from `labels`. Integer sums are cast
// back to the operands' dtype, which einsum keeps (sum would widen int32 to int64).
template <typename Pred>
void sum_out(Tensor& x, std::vector<int>& labels, DType dtype, Pred drop) {
  Dims dims;
  std::vector<int> kept;
  for (size_t d = 0; d < labels.size(); ++d) {
    if (drop(labels[d])) dims.push_back(static_cast<int64_t>(d));
    else kept.push_back(labels[d]);
  }
  if (dims.empty()) return;  // sum over no dims would sum them all
  x = sum(x, dims);
  if (!is_floating(dtype) && x.dtype() != dtype) x = cast(x, dtype);
  labels = std::move(kept);
}

int64_t position(const std::vector<int>& labels, int label) {
  const auto it = std::find(labels.begin(), labels.end(), label);
  return it == labels.end() ? -1 : it - labels.begin();
}

int64_t product(const Tensor& x, const std::vector<int>& labels, const std::vector<int>& of) {
  int64_t n = 1;
  for (int l : of) n *= x.size(position(labels, l));
  return n;
}

// a (labels al) times b (labels bl), summed over `contracted` (labels of both, of equal size). The
// labels in both that are not contracted are batch dims, which matmul broadcasts (1 against n); the
// rest are flattened into matmul's m (a's only) and n (b's only) dims. The result's labels are
// batch, then a's own, then b's own.
Tensor contract(const Tensor& a, std::vector<int>& al, const Tensor& b, const std::vector<int>& bl,
                const std::vector<int>& contracted) {
  std::vector<int> batch, m, n;
  for (int l : al) {
    if (std::find(contracted.begin(), contracted.end(), l) != contracted.end()) continue;
    (position(bl, l) >= 0 ? batch : m).push_back(l);
  }
  for (int l : bl)
    if (position(al, l) < 0) n.push_back(l);
  auto arrange = [](const Tensor& x, const std::vector<int>& labels, const std::vector<int>& batch,
                    const std::vector<int>& rows, const std::vector<int>& cols) {
    Dims perm;
    Shape shape;
    for (int l : batch) perm.push_back(position(labels, l)), shape.push_back(x.size(position(labels, l)));
    for (int l : rows) perm.push_back(position(labels, l));
    for (int l : cols) perm.push_back(position(labels, l));
    shape.push_back(product(x, labels, rows));
    shape.push_back(product(x, labels, cols));
    return reshape(permute(x, perm), shape);
  };
  const Tensor out = matmul(arrange(a, al, batch, m, contracted), arrange(b, bl, batch, contracted, n));
  Shape shape(out.shape().begin(), out.shape().end() - 2);
  for (int l : m) shape.push_back(a.size(position(al, l)));
  for (int l : n) shape.push_back(b.size(position(bl, l)));
  al = batch;
  al.insert(al.end(), m.begin(), m.end());
  al.insert(al.end(), n.begin(), n.end());
  return reshape(out, shape);
}

}  // namespace

Tensor einsum(std::string_view equation, std::span<const Tensor> operands) {
  const Call call{equation, operands};
  EMBER_CHECK(!operands.empty(), kOp, "expected at least one operand; {}", call.where());
  for (size_t k = 0; k < operands.size(); ++k)
    EMBER_CHECK(operands[k].defined(), kOp, "operand {} is an undefined tensor; {}", k, call.where());
  const Equation eq = parse(call);
  const size_t n_ops = operands.size();
  EMBER_CHECK(eq.inputs.size() == n_ops, kOp, "the equation has {} input term(s) for {} operand(s); {}",
              eq.inputs.size(), n_ops, call.where());
  const DType dtype = operands[0].dtype();
  for (const Tensor& t : operands) {
    // PyTorch promotes where its path happens to be elementwise but not where it is a bmm; ember
    // promotes nowhere rather than sometimes.
    EMBER_CHECK(t.dtype() == dtype, kOp, "expected one dtype for every operand (none is promoted); {}", call.where());
    EMBER_CHECK(t.device() == operands[0].device(), kOp, "expected every operand on one device; {}", call.where());
  }
  // A bool einsum would mix logic (the matmul's or of ands) with counting (sum's int64); PyTorch's
  // bmm refuses bool too.
  EMBER_CHECK(dtype != DType::Bool, kOp,
              "bool operands are not supported (cast them to an integer or floating dtype); {}", call.where());

  // Each operand's labels, one per dim, the ellipsis expanded.
  int64_t ellipsis_dims = 0;
  std::vector<int64_t> own_ellipsis(n_ops, 0);
  for (size_t k = 0; k < n_ops; ++k) {
    const std::vector<int>& term = eq.inputs[k];
    const bool has_ellipsis = std::find(term.begin(), term.end(), kEllipsis) != term.end();
    const int64_t letters = static_cast<int64_t>(term.size()) - has_ellipsis, ndim = operands[k].dim();
    EMBER_CHECK(has_ellipsis ? ndim >= letters : ndim == letters, kOp,
                "operand {} has {} dims but its term has {} subscripts{}; {}", k, ndim, letters,
                has_ellipsis ? " besides the ellipsis" : " and no ellipsis", call.where());
    own_ellipsis[k] = ndim - letters;
    ellipsis_dims = std::max(ellipsis_dims, own_ellipsis[k]);
  }
  const int n_labels = kLetters + static_cast<int>(ellipsis_dims);
  std::vector<Tensor> xs(operands.begin(), operands.end());
  std::vector<std::vector<int>> labels(n_ops);
  std::vector<int> count(n_labels, 0);   // occurrences in the input terms, repeats included
  std::vector<int> last_use(n_labels, -1);  // the last operand that has the label; n_ops: the output has it
  std::vector<int64_t> size(n_labels, 1);   // broadcast over the operands
  for (size_t k = 0; k < n_ops; ++k) {
    for (int l : eq.inputs[k]) {
      if (l != kEllipsis) {
        labels[k].push_back(l), ++count[l];
        continue;
      }
      for (int64_t e = ellipsis_dims - own_ellipsis[k]; e < ellipsis_dims; ++e)
        labels[k].push_back(kLetters + static_cast<int>(e));
    }
    // A label repeated within an operand takes the diagonal: diagonal() drops both dims and appends
    // theirs, so the label moves to the end. Again until no label repeats ("iii" takes two).
    std::vector<int>& ls = labels[k];
    for (bool again = true; again;) {
      again = false;
      for (size_t p = 0; p < ls.size() && !again; ++p) {
        const auto q = std::find(ls.begin() + p + 1, ls.end(), ls[p]);
        if (q == ls.end()) continue;
        const int l = ls[p];
        const int64_t dp = static_cast<int64_t>(p), dq = q - ls.begin();
        EMBER_CHECK(xs[k].size(dp) == xs[k].size(dq), kOp, "{} is repeated in operand {} with sizes {} and {}; {}",
                    label_name(l), k, xs[k].size(dp), xs[k].size(dq), call.where());
        xs[k] = diagonal(xs[k], 0, dp, dq);
        ls.erase(q), ls.erase(ls.begin() + dp), ls.push_back(l);
        again = true;
      }
    }
    for (size_t d = 0; d < ls.size(); ++d) {
      const int64_t s = xs[k].size(d);
      const int l = ls[d];
      EMBER_CHECK(last_use[l] < 0 || s == size[l] || s == 1 || size[l] == 1, kOp,
                  "{} has size {} in operand {} but {} in an earlier one (only a size of 1 broadcasts); {}",
                  label_name(l), s, k, size[l], call.where());
      if (last_use[l] < 0 || size[l] == 1) size[l] = s;
      last_use[l] = static_cast<int>(k);
    }
  }

  std::vector<int> out;
  auto add_ellipsis = [&] {
    for (int e = 0; e < ellipsis_dims; ++e) out.push_back(kLetters + e);
  };
  if (eq.explicit_output) {
    for (size_t i = 0; i < eq.output.size(); ++i) {
      const int l = eq.output[i];
      if (l == kEllipsis) {
        add_ellipsis();
        continue;
      }
      EMBER_CHECK(count[l] > 0, kOp, "output {} appears in no input term; {}", label_name(l), call.where());
      EMBER_CHECK(std::find(eq.output.begin(), eq.output.begin() + i, l) == eq.output.begin() + i, kOp,
                  "output {} appears more than once in the output; {}", label_name(l), call.where());
      out.push_back(l);
    }
  } else {
    add_ellipsis();
    for (int l = 0; l < kLetters; ++l)
      if (count[l] == 1) out.push_back(l);
  }
  for (int l : out) last_use[l] = static_cast<int>(n_ops);

  // Left to right. A label that no later operand and not the output has is summed away: in the one
  // operand that has it, before any product (fewer multiplications); in both sides when their sizes
  // differ (one is 1: the sum of a_j b_j over a broadcast a_j is a times the sum of the b_j);
  // otherwise by the matmul.
  Tensor result = xs[0];
  std::vector<int> rl = labels[0];
  sum_out(result, rl, dtype, [&](int l) { return last_use[l] == 0; });
  for (size_t k = 1; k < n_ops; ++k) {
    Tensor b = xs[k];
    std::vector<int> bl = labels[k];
    std::vector<char> alone(n_labels, 0);
    std::vector<int> contracted;
    for (int l = 0; l < n_labels; ++l) {
      if (last_use[l] != static_cast<int>(k)) continue;
      const int64_t pa = position(rl, l), pb = position(bl, l);
      if (pa >= 0 && pb >= 0 && result.size(pa) == b.size(pb)) contracted.push_back(l);
      else alone[l] = 1;
    }
    sum_out(result, rl, dtype, [&](int l) { return alone[l] != 0; });
    sum_out(b, bl, dtype, [&](int l) { return alone[l] != 0; });
    result = contract(result, rl, b, bl, contracted);
  }

  EMBER_ASSERT(rl.size() == out.size());
  Dims perm;
  for (int l : out) perm.push_back(position(rl, l));
  // A permutation even where the order is already right: the result is then a new view, as
  // PyTorch's, never the caller's own handle.
  return permute(result, perm);
}

}  // namespace ember
