// A table of bad input, tried as a new user would: every case must end in an ember::Error whose
// message starts with the op in brackets (the op the user called, where a row names it), never a
// crash, a hang, another exception type or a silently accepted value. Each case runs in a child
// process, so a crash fails only its own row.
#include <catch2/catch.hpp>
#include <omp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <ember/core/autocast.h>
#include <ember/data/dataset.h>
#include <ember/io/checkpoint.h>
#include <ember/io/safetensors.h>
#include <ember/nn/nn.h>
#include <ember/ops/ops.h>
#include <ember/optim/optim.h>

using namespace ember;

namespace {

struct Case {
  const char* name;
  std::function<void()> f;
  const char* op = nullptr;  // where set, the message must start with "[op]"
};

// Caps this (child) process's address space at what it maps now plus `extra` bytes, so that a large
// allocation fails as it would on a machine with less memory.
void cap_memory(int64_t extra) {
  long pages = 0;
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  REQUIRE(statm != nullptr);
  REQUIRE(std::fscanf(statm, "%ld", &pages) == 1);
  std::fclose(statm);
  const rlimit cap{static_cast<rlim_t>(pages * sysconf(_SC_PAGESIZE) + extra),
                   static_cast<rlim_t>(pages * sysconf(_SC_PAGESIZE) + extra)};
  REQUIRE(setrlimit(RLIMIT_AS, &cap) == 0);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;  // its allocator aborts where malloc would return null
#else
constexpr bool kAddressSanitizer = false;
#endif

// Exit codes of the child: 0 an ember::Error starting with '[', 1 no error, 2 another exception,
// 3 an ember::Error without the [op] prefix, 4 one naming another op than the row's; a signal is a crash.
int run_isolated(const Case& c) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(20);  // a hang is a failure too
    // libgomp is not fork-safe: once the parent has run a parallel region (OpenBLAS's kernel check at
    // load does), a parallel region in the child waits forever for the parent's pool. One thread each.
    omp_set_num_threads(1);
    int code = 1;
    try {
      c.f();
    } catch (const Error& e) {
      const std::string what = e.what();
      code = what[0] != '[' ? 3 : c.op && what.rfind(std::string("[") + c.op + "]", 0) != 0 ? 4 : 0;
    } catch (...) {
      code = 2;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("a table of bad input gives a clear ember::Error in every row", "[ops][robustness][bad_input]") {
  std::vector<Case> cases = {
      {"reshape bad numel", []{ ones({2,3}).reshape({4}); }},
      {"view noncontig", []{ ones({2,3}).t().view({6}); }},
      {"permute dup", []{ ones({2,3}).permute({0,0}); }},
      {"transpose oob", []{ ones({2,3}).transpose(0,5); }},
      {"cat empty", []{ cat({}, 0); }},
      {"cat mismatch", []{ cat({ones({2,3}), ones({2,4})}, 0); }},
      {"stack mismatch", []{ stack({ones({2,3}), ones({2,4})}, 0); }},
      {"matmul 0-d", []{ matmul(ones({}), ones({})); }},
      {"matmul mismatch", []{ matmul(ones({2,3}), ones({4,5})); }},
      {"matmul dtype mix", []{ matmul(ones({2,3}), ones({3,5},{.dtype=DType::Float64})); }},
      {"conv2d chans", []{ conv2d(ones({1,3,5,5}), ones({4,2,3,3})); }},
      {"conv2d kernel big", []{ conv2d(ones({1,3,2,2}), ones({4,3,3,3})); }},
      {"conv2d stride 0", []{ conv2d(ones({1,3,5,5}), ones({4,3,3,3}), std::nullopt, {0,0}); }},
      {"ce target oob", []{ cross_entropy(ones({2,3}), from_vector<int64_t>({0,5})); }},
      {"ce target neg", []{ cross_entropy(ones({2,3}), from_vector<int64_t>({0,-3})); }},
      {"ce target float shape", []{ cross_entropy(ones({2,3}), ones({2})); }},
      {"embedding neg", []{ embedding(ones({4,2}), from_vector<int64_t>({-1})); }},
      {"softmax dim", []{ softmax(ones({2,3}), 5); }},
      {"item multi", []{ ones({2}).item<float>(); }},
      {"from_vector shape", []{ from_vector<float>({1,2,3}, {2,2}); }},
      {"randint lo>=hi", []{ randint(5, 5, {3}); }},
      {"arange step0", []{ arange(0, 5, 0); }},
      {"arange wrong sign", []{ arange(0, 5, -1); }},
      {"arange nan", []{ arange(0, NAN, 1); }},
      {"linspace neg", []{ linspace(0, 1, -3); }},
      {"eye neg", []{ eye(-2); }},
      {"narrow oob", []{ ones({3}).narrow(0, 2, 5); }},
      // start + length wrapped past INT64_MAX: the view reached past its storage (SIGSEGV on reading it).
      {"narrow length wraps", []{ ones({3, 4}).narrow(0, 1, INT64_MAX).select(0, int64_t{1} << 40).sum(); }, "narrow"},
      {"unflatten 0-d", []{ scalar_tensor(5.0).unflatten(0, {1}); }, "unflatten"},
      {"transpose 0-d dim", []{ scalar_tensor(1.0).transpose(0, 1); }, "transpose"},
      {"pad crops past the dim", []{ pad(ones({3}), {-5, 3}); }, "pad"},
      {"full f16 overflow", []{ full({1}, 1e6, {.dtype = DType::Float16}); }, "full"},
      {"add alpha fractional into int", []{ add(from_vector<int64_t>({1}), from_vector<int64_t>({1}), 0.5); }, "add"},
      {"slice step0", []{ ones({3}).slice(0, 0, 3, 0); }},
      {"slice step neg", []{ ones({3}).slice(0, 0, 3, -1); }},
      {"select oob", []{ ones({3}).select(0, 3); }},
      {"select neg oob", []{ ones({3}).select(0, -4); }},
      {"expand bad", []{ ones({3}).expand({4}); }},
      {"expand neg", []{ ones({3}).expand({-2, 3}); }},
      {"as_strided neg", []{ ones({6}).as_strided(std::vector<int64_t>{2}, std::vector<int64_t>{-1}, 0); }},
      {"as_strided oob", []{ ones({6}).as_strided(std::vector<int64_t>{4}, std::vector<int64_t>{2}, 0); }},
      {"mean int", []{ mean(ones({3},{.dtype=DType::Int64})); }},
      {"sum dup dims", []{ ones({2,3}).sum({0,0}); }},
      {"sum dim oob", []{ ones({2,3}).sum({7}); }},
      {"index_select 2d", []{ index_select(ones({3}), 0, from_vector<int64_t>({0,1},{1,2})); }},
      {"index_select float idx", []{ index_select(ones({3}), 0, ones({2})); }},
      {"gather oob", []{ gather(ones({2,3}), 1, from_vector<int64_t>({0,9},{2,1})); }},
      {"one_hot neg", []{ one_hot(from_vector<int64_t>({-1}), 3); }},
      {"one_hot big classes", []{ one_hot(from_vector<int64_t>({1}), int64_t{1} << 40); }, "one_hot"},
      {"bernoulli p>1", []{ bernoulli(full({3}, 1.5)); }},
      {"bernoulli p nan", []{ bernoulli(std::vector<int64_t>{3}, NAN); }},
      {"dropout p>1", []{ dropout(ones({3}), 1.5, true); }},
      {"Linear neg", []{ nn::Linear(-1, 3); }},
      {"Linear huge", []{ nn::Linear(int64_t{1}<<40, int64_t{1}<<40); }},
      {"Conv2d 0", []{ nn::Conv2d(0, 3, 3); }},
      {"Linear wrong input", []{ auto l = nn::Linear(3, 2); (*l)(ones({2, 4})); }},
      {"SGD negative lr", []{ auto w = ones({2}).requires_grad_(); optim::SGD o({w}, {.lr = -1}); }},
      {"Adam bad beta", []{ auto w = ones({2}).requires_grad_(); optim::AdamOptions ao; ao.beta1 = 1.5; optim::Adam o({w}, ao); }},
      {"Adam no params", []{ optim::Adam o({}, {}); }},
      // non-finite or out-of-range options in a constructor (a new group was checked, the constructor was not)
      {"SGD lr inf", []{ auto w = ones({2}).requires_grad_(); optim::SGD o({w}, {.lr = INFINITY}); }, "SGD"},
      {"SGD dampening NaN", []{ auto w = ones({2}).requires_grad_(); optim::SGD o({w}, {.lr = 0.1, .momentum = 0.9, .dampening = NAN}); }, "SGD"},
      {"Adam eps inf", []{ auto w = ones({2}).requires_grad_(); optim::AdamOptions ao; ao.eps = INFINITY; optim::Adam o({w}, ao); }, "Adam"},
      {"RMSprop negative weight decay", []{ auto w = ones({2}).requires_grad_(); optim::RMSpropOptions ro; ro.weight_decay = -1; optim::RMSprop o({w}, ro); }, "RMSprop"},
      {"RMSprop alpha 2", []{ auto w = ones({2}).requires_grad_(); optim::RMSpropOptions ro; ro.alpha = 2; optim::RMSprop o({w}, ro); }, "RMSprop"},
      {"Lion lr inf", []{ auto w = ones({2}).requires_grad_(); optim::LionOptions lo; lo.lr = INFINITY; optim::Lion o({w}, lo); }, "Lion"},
      {"SpectralNorm eps inf", []{ nn::SpectralNorm(nn::Linear(3, 2), INFINITY); }, "SpectralNorm"},
      {"SGD nonleaf", []{ auto w = ones({2}).requires_grad_(); optim::SGD o({w * 2}, {}); o.step(); }},
      {"load missing", []{ io::load_safetensors("/nonexistent.st"); }},
      {"load dir", []{ io::load_safetensors("/tmp"); }},
      {"max empty", []{ max(zeros({0})); }},
      {"argmax empty", []{ argmax(zeros({0})); }},
      {"pad neg too big", []{ pad(ones({3}), {-5, 0}); }},
      {"interpolate 0 size", []{ interpolate(ones({1,1,2,2}), InterpolateOptions{.size = std::array<int64_t,2>{0, 0}}); }},
      {"max_pool kernel 0", []{ max_pool2d(ones({1,1,4,4}), 0); }},
      {"layer_norm bad shape", []{ layer_norm(ones({2,3}), std::vector<int64_t>{4}); }},
      {"cumsum dim oob", []{ cumsum(ones({3}), 3); }},
      {"grad nonscalar", []{ auto w = ones({2}).requires_grad_(); grad({w * 2}, {w}); }},
      {"backward twice", []{ auto w = ones({2}).requires_grad_(); auto y = (w * w).sum(); y.backward(); y.backward(); }},
      {"requires_grad int", []{ ones({2},{.dtype=DType::Int64}).requires_grad_(); }},
      {"copy_ shape", []{ auto a = ones({3}); a.copy_(ones({4})); }},
      {"add_ broadcast grow", []{ auto a = ones({3}); a.add_(ones({2,3})); }},
      {"from_blob null", []{ from_blob(nullptr, std::vector<int64_t>{3}, DType::Float32); }},
      {"mse shape", []{ mse_loss(ones({3}), ones({4})); }},
      {"bce out of range", []{ binary_cross_entropy(full({3}, 2.0), ones({3})); }},
      {"squeeze oob", []{ ones({3}).squeeze(3); }},
      {"unflatten bad", []{ ones({6}).unflatten(0, {4, 2}); }},
      {"flatten bad dims", []{ ones({2,3}).flatten(1, 0); }},
      {"diagonal same dims", []{ ones({2,3}).diagonal(0, 0, 0); }},
      {"DataLoader negative position", []{ auto d = std::make_shared<data::TensorDataset>(ones({4,2}), Tensor()); data::DataLoader l(d, {.batch_size = 2}); l.set_position(-1, -5); for (auto& b : l) (void)b; }},
      {"DataLoader batch 0", []{ auto d = std::make_shared<data::TensorDataset>(ones({4,2}), Tensor()); data::DataLoader l(d, {.batch_size = 0}); }},
      {"TensorDataset sizes differ", []{ data::TensorDataset d(ones({4,2}), ones({3})); }},
      {"Module to int64", []{ auto a = nn::Linear(3, 2); a->to(DType::Int64); }},
      {"load_state_dict wrong shape", []{ auto a = nn::Linear(3, 2); auto b = nn::Linear(4, 2); b->load_state_dict(a->state_dict()); }},
      {"Embedding module index out of range", []{ auto e = nn::Embedding(3, 2); (*e)(from_vector<int64_t>({5})); }},
      {"Conv2d module wrong channels", []{ auto c = nn::Conv2d(3, 4, 3); (*c)(ones({1, 2, 5, 5})); }},
      // Found by an adversarial sweep (2026-12-02): each crashed, wrapped or was silently accepted.
      {"block_sparse_layout cells overflow", []{ block_sparse_layout(int64_t{1} << 32, int64_t{1} << 32, 1); }},
      {"hippo_legs N*N overflow", []{ hippo_legs(int64_t{1} << 32); }},
      {"full uint8 300", []{ full({1}, Scalar(300), {.dtype = DType::UInt8}); }},
      {"layer_norm eps NaN", []{ layer_norm(ones({2, 4}), {4}, std::nullopt, std::nullopt, std::nan("")); }},
      {"rotary offset overflow", []{ nn::rotary_embedding(ones({1, 1, 4, 8}), INT64_MAX); }},
      {"add_param_group negative lr", []{ auto a = nn::Linear(3, 2); optim::SGD s({a->weight}, {}); s.add_param_group({a->bias}, {{"lr", -1.0}}); }},
      {"Adam state step not a number", []{ auto a = nn::Linear(3, 2); optim::Adam o(a->parameters()); o.load_state_dict({{"state.0.step", ones({2}, {.dtype = DType::Float64})}}); }},
      // Found by a second sweep (2026-12-02): sizes that overflowed int64 crashed, hung or were
      // silently wrong, and errors named an internal op instead of the one called.
      {"unfold kernel positions overflow", []{ unfold(ones({1,1,1,1}), {1,1}, {1,1}, {137088, 33640210655360}); }, "unfold"},
      {"conv2d kernel positions overflow", []{ conv2d(ones({1,1,1,1}, {.dtype = DType::Float64}), ones({1,1,1,1}, {.dtype = DType::Float64}), std::nullopt, {1,1}, {137088, 33640210655360}); }, "conv2d"},
      {"conv2d float32 padding 2^40", []{ conv2d(ones({1,1,5,5}), ones({1,1,1,1}), std::nullopt, {1,1}, {int64_t{1} << 40, int64_t{1} << 40}); }, "conv2d"},
      {"conv2d padding INT64_MAX", []{ conv2d(ones({1,1,5,5}, {.dtype = DType::Float64}), ones({1,1,1,1}, {.dtype = DType::Float64}), std::nullopt, {1,1}, {INT64_MAX, INT64_MAX}); }, "conv2d"},
      {"conv2d dilation INT64_MAX", []{ conv2d(ones({1,1,5,5}, {.dtype = DType::Float64}), ones({1,1,3,3}, {.dtype = DType::Float64}), std::nullopt, {1,1}, {0,0}, {INT64_MAX, INT64_MAX}); }, "conv2d"},
      {"conv1d padding INT64_MAX", []{ conv1d(ones({1,1,5}), ones({1,1,3}), std::nullopt, 1, INT64_MAX); }, "conv1d"},
      {"fold kernel positions overflow", []{ fold(ones({1,1,1}), {1,1}, {1,1}, {1,1}, {137088, 33640210655360}); }, "fold"},
      {"fold kernel area overflow", []{ fold(ones({1,4,1}), {5,5}, {int64_t{1} << 32, int64_t{1} << 32}); }, "fold"},
      {"conv_transpose2d padding INT64_MAX", []{ conv_transpose2d(ones({1,1,3,3}), ones({1,1,3,3}), std::nullopt, {1,1}, {INT64_MAX, INT64_MAX}); }, "conv_transpose2d"},
      {"conv_transpose2d stride 2^62", []{ conv_transpose2d(ones({1,1,5,5}), ones({1,1,3,3}), std::nullopt, {int64_t{1} << 62, int64_t{1} << 62}); }, "conv_transpose2d"},
      {"conv_transpose2d no input channels", []{ conv_transpose2d(ones({1,0,3,3}), ones({0,2,3,3})); }, "conv_transpose2d"},
      {"ConvTranspose2d in_channels 0", []{ nn::ConvTranspose2d(0, 3, 3); }, "ConvTranspose2d"},
      {"Conv1d out_channels 0", []{ nn::Conv1d(2, 0, 3); }, "Conv1d"},
      {"unfold of an empty batch, kernel area overflow", []{ unfold(zeros({0,4,1,1}), {int64_t{1} << 31, int64_t{1} << 31}, {1,1}, {int64_t{1} << 30, int64_t{1} << 30}); }, "unfold"},
      {"avg_pool2d kernel area overflow", []{ avg_pool2d(ones({1,1,1,1}), Size2{int64_t{1} << 62, int64_t{1} << 62}, std::nullopt, Size2{int64_t{1} << 61, int64_t{1} << 61}); }, "avg_pool2d"},
      {"SelfAttention rotary_base NaN", []{ nn::SelfAttention({.d_model = 8, .heads = 2, .rotary = true, .rotary_base = NAN}); }, "SelfAttention"},
      {"SelfAttention d_model past 2^62", []{ nn::SelfAttention({.d_model = int64_t{1} << 62, .heads = 1}); }, "SelfAttention"},
      {"TransformerBlock d_model past 2^61", []{ nn::TransformerBlock({.d_model = int64_t{1} << 61}, nn::SelfAttention({.d_model = 8, .heads = 1})); }, "TransformerBlock"},
      {"TransformerBlock input of another width", []{ auto b = nn::TransformerBlock({.d_model = 8}, nn::SelfAttention({.d_model = 8, .heads = 1})); (*b)(ones({1, 3, 4})); }, "TransformerBlock"},
      {"selective_scan_with_state bad shapes", []{ const Tensor x = ones({2, 3, 4}); selective_scan_with_state(x, x, x, x, x); }, "selective_scan_with_state"},
      {"autocast_policy unknown op", []{ autocast_policy("no_such_op"); }, "autocast_policy"},
      {"rotary offset past 2^53", []{ nn::rotary_embedding(ones({1, 1, 500, 8}), int64_t{1} << 62); }, "rotary_embedding"},
      {"S4D state size overflow", []{ nn::S4D({.d_model = 8, .d_state = int64_t{1} << 62}); }, "S4D"},
      {"S4D dt_max inf", []{ nn::S4D({.d_model = 2, .dt_max = INFINITY}); }, "S4D"},
      // an expanded input past 2^61 steps: the FFT length's doubling wrapped to 0 and never ended
      {"S4D sequence past 2^61", []{ auto s = nn::S4D({.d_model = 1, .d_state = 2}); s->to(DType::Float16); (*s)(expand(zeros({1, 1, 1}, {.dtype = DType::Float16}), std::vector<int64_t>{1, 1, (int64_t{1} << 61) + 1})); }, "S4D"},
      {"S4D kernel past 2^53", []{ auto s = nn::S4D({.d_model = 1, .d_state = 2}); s->kernel(int64_t{1} << 62); }, "S4D"},
      {"Mamba dt_init_floor inf", []{ nn::Mamba({.d_model = 4, .dt_init_floor = INFINITY}); }, "Mamba"},
      {"Mamba expand x d_model overflow", []{ nn::Mamba({.d_model = 4, .expand = (int64_t{1} << 62) + 1}); }, "Mamba"},
      {"GAU expansion x d_model overflow", []{ nn::GAU({.d_model = 4, .expansion = (int64_t{1} << 62) + 1}); }, "GAU"},
      {"GAU max_len INT64_MAX", []{ nn::GAU({.d_model = 4, .max_len = INT64_MAX}); }, "GAU"},
      {"causal_conv1d no channels", []{ causal_conv1d(zeros({1,0,5}), zeros({0,3})); }, "causal_conv1d"},
      {"causal_conv1d int64 input", []{ causal_conv1d(zeros({1,2,5}, {.dtype = DType::Int64}), zeros({2,3}, {.dtype = DType::Int64})); }, "causal_conv1d"},
      // Found by the review of that sweep (2026-12-03): errors named an internal op, or a product wrapped.
      {"conv1d unfolded input overflow", []{ conv1d(expand(ones({1,1,1}), std::vector<int64_t>{int64_t{1} << 28, 4, int64_t{1} << 28}), ones({1,4,64})); }, "conv1d"},
      {"conv2d output overflow", []{ conv2d(expand(ones({1,1,1,1}), std::vector<int64_t>{int64_t{1} << 20, 1, int64_t{1} << 20, 1}), expand(ones({1,1,1,1}), std::vector<int64_t>{int64_t{1} << 24, 1, 1, 1})); }, "conv2d"},
      {"conv2d weight channels x groups wraps to C", []{ conv2d(ones({1,16,3,3}), zeros({0, (int64_t{1} << 60) + 1, 1, 1}), std::nullopt, {1,1}, {0,0}, {1,1}, 16); }, "conv2d"},
      {"fold output overflow", []{ fold(ones({1,1,1}), {int64_t{1} << 40, int64_t{1} << 40}, {1,1}, {1,1}, {0,0}, {int64_t{1} << 40, int64_t{1} << 40}); }, "fold"},
      {"Mamba dt_rank + 2 d_state overflow", []{ nn::Mamba({.d_model = 1, .d_state = int64_t{1} << 62, .expand = 1}); }, "Mamba"},
      {"Mamba d_inner x d_state overflow", []{ nn::Mamba({.d_model = 4, .d_state = int64_t{1} << 61, .selective = false}); }, "Mamba"},
      {"GAU 2 e + s overflow", []{ nn::GAU({.d_model = 4, .expansion = int64_t{1} << 60}); }, "GAU"},
      {"pad amounts overflow", []{ pad(ones({2}), std::vector<int64_t>{INT64_MAX, INT64_MAX}); }, "pad"},
      {"repeat count overflow", []{ repeat(ones({2}), std::vector<int64_t>{int64_t{1} << 62}); }, "repeat"},
      // Found by a third sweep (2026-12-03): crashes, silently wrong values and wrapped integers.
      {"randint near INT64_MAX", []{ randint(INT64_MAX - 10, INT64_MAX, {4}); }, "randint"},
      {"randint bounds past 2^53", []{ randint(int64_t{1} << 60, (int64_t{1} << 60) + 3, {4}); }, "randint"},
      {"randint 2^40 into float16", []{ randint(0, int64_t{1} << 40, {4}, {.dtype = DType::Float16}); }, "randint"},
      {"as_strided_scatter out of the base", []{ as_strided_scatter(ones({3}), std::vector<int64_t>{2}, std::vector<int64_t>{3}, std::vector<int64_t>{1000000}, 0); }, "as_strided_scatter"},
      {"as_strided_scatter negative offset", []{ as_strided_scatter(ones({3}), std::vector<int64_t>{4}, std::vector<int64_t>{3}, std::vector<int64_t>{1}, -2); }, "as_strided_scatter"},
      // a src that the input's dtype cannot hold: truncated (0.5 -> 0) or wrapped (300 -> 44) silently before
      {"scatter_add float src into int64", []{ scatter_add(zeros({3},{.dtype=DType::Int64}), 0, from_vector<int64_t>({0,1,2}), from_vector<float>({0.5f,1.7f,2.9f})); }, "scatter_add"},
      {"index_add float src into int64", []{ index_add(zeros({3},{.dtype=DType::Int64}), 0, from_vector<int64_t>({0,1,2}), from_vector<float>({0.5f,1.7f,2.9f})); }, "index_add"},
      {"index_add int64 src into uint8", []{ index_add(zeros({1},{.dtype=DType::UInt8}), 0, from_vector<int64_t>({0}), from_vector<int64_t>({300})); }, "index_add"},
      {"scatter_add float src into bool", []{ scatter_add(zeros({2},{.dtype=DType::Bool}), 0, from_vector<int64_t>({0}), from_vector<float>({0.5f})); }, "scatter_add"},
      {"as_strided_scatter source of another shape", []{ as_strided_scatter(ones({3}), std::vector<int64_t>{4}, std::vector<int64_t>{2}, std::vector<int64_t>{1}, 0); }, "as_strided_scatter"},
      {"size(0) of a 0-d tensor", []{ (void)ones({}).size(0); }, "size"},
      {"stride(-1) of a 0-d tensor", []{ (void)ones({}).stride(-1); }, "stride"},
      {"add_ into an expanded tensor", []{ auto a = zeros({1}).expand({3}); a.add_(from_vector<float>({1, 2, 3})); }, "add_"},
      {"copy_ into an expanded tensor", []{ auto a = zeros({1}).expand({3}); a.copy_(from_vector<float>({1, 2, 3})); }, "copy_"},
      {"norm p NaN", []{ norm(ones({3}), NAN); }, "norm"},
      {"norm of order inf over no entries", []{ norm(zeros({0, 3}), INFINITY, {0}); }, "norm"},
      {"normal_ negative std", []{ zeros({3}).normal_(0, -1); }, "normal_"},
      {"normal_ NaN std", []{ zeros({3}).normal_(0, NAN); }, "normal_"},
      {"normal_ into int64", []{ zeros({3}, {.dtype = DType::Int64}).normal_(0, 1e30); }, "normal_"},
      {"uniform_ lo > hi", []{ zeros({3}).uniform_(5, 1); }, "uniform_"},
      {"arange 300 into uint8", []{ arange(0, 300, 1, {.dtype = DType::UInt8}); }, "arange"},
      {"arange negative into uint8", []{ arange(-2, 2, 1, {.dtype = DType::UInt8}); }, "arange"},
      {"arange 3e9 into int32", []{ arange(3e9, 3e9 + 2, 1, {.dtype = DType::Int32}); }, "arange"},
      {"linspace 300 into uint8", []{ linspace(0, 300, 4, {.dtype = DType::UInt8}); }, "linspace"},
      {"item NaN to int64", []{ (void)full({1}, NAN).item<int64_t>(); }, "item"},
      {"item 300 to uint8", []{ (void)full({1}, 300).item<uint8_t>(); }, "item"},
      {"item -1 to uint8 from int64", []{ (void)full({1}, -1, {.dtype = DType::Int64}).item<uint8_t>(); }, "item"},
      {"std of int64 names std", []{ ember::std(ones({3}, {.dtype = DType::Int64})); }, "std"},
      {"DataLoader epoch INT64_MAX", []{ data::DataLoader l(std::make_shared<data::TensorDataset>(ones({4, 2}), ones({4})), {.batch_size = 2}); l.set_position(INT64_MAX, 0); }, "DataLoader"},
      // The same sweep's errors that named an op the user did not call (sort, matmul, reshape, mul, full, ...).
      {"argsort of bool", []{ argsort(ones({3}, {.dtype = DType::Bool})); }, "argsort"},
      {"dot of float32 and float64", []{ dot(ones({3}), ones({3}, {.dtype = DType::Float64})); }, "dot"},
      {"cross_entropy one sample, two targets", []{ cross_entropy(ones({3}), from_vector<int64_t>({0, 1})); }, "cross_entropy"},
      {"nll_loss one sample, two targets", []{ nll_loss(ones({3}), from_vector<int64_t>({0, 1})); }, "nll_loss"},
      {"binary_cross_entropy weight of another shape", []{ binary_cross_entropy(full({3}, 0.5), ones({3}), ones({4})); }, "binary_cross_entropy"},
      {"bce_with_logits pos_weight of another shape", []{ binary_cross_entropy_with_logits(ones({3}), ones({3}), std::nullopt, "mean", ones({4})); }, "binary_cross_entropy_with_logits"},
      {"masked_fill 300 into uint8", []{ masked_fill(ones({3}, {.dtype = DType::UInt8}), ones({3}, {.dtype = DType::Bool}), 300); }, "masked_fill"},
      {"clamp int64 with a NaN bound", []{ clamp(from_vector<int64_t>({1, 2, 3}), NAN, std::nullopt); }, "clamp"},
      {"sum_to a shape that does not broadcast", []{ sum_to(ones({3}), std::vector<int64_t>{4}); }, "sum_to"},
      {"sum_to more dims", []{ sum_to(ones({3}), std::vector<int64_t>{2, 3}); }, "sum_to"},
      {"split sizes that overflow", []{ split_with_sizes(ones({3}), std::vector<int64_t>{INT64_MAX, INT64_MAX, 5}); }, "split"},
      {"lerp weight of another shape", []{ lerp(ones({3}), ones({3}), ones({4})); }, "lerp"},
      {"TensorDataset example out of range", []{ data::TensorDataset(ones({3}), Tensor()).get_batch({5}); }, "TensorDataset"},
      {"flip a dim twice", []{ flip(ones({3}), std::vector<int64_t>{0, 0}); }, "flip"},
      {"one_hot of INT64_MAX", []{ one_hot(from_vector<int64_t>({INT64_MAX})); }, "one_hot"},
      {"multinomial 2^62 samples", []{ multinomial(ones({3}), int64_t{1} << 62, true); }, "multinomial"},
      {"mean of undefined", []{ mean(Tensor()); }, "mean"},
      {"prod of undefined", []{ prod(Tensor()); }, "prod"},
      {"cumsum of undefined", []{ cumsum(Tensor(), 0); }, "cumsum"},
      {"index_select of undefined", []{ index_select(Tensor(), 0, from_vector<int64_t>({0})); }, "index_select"},
      {"flip of undefined", []{ flip(Tensor(), std::vector<int64_t>{0}); }, "flip"},
      {"outer of undefined", []{ outer(Tensor(), ones({2})); }, "outer"},
      {"all of undefined", []{ (void)all(Tensor()); }, "all"},
      {"item of undefined", []{ (void)Tensor().item<float>(); }, "item"},
      {"mse_loss of undefined", []{ mse_loss(Tensor(), ones({2})); }, "mse_loss"},
      {"tril of undefined", []{ tril(Tensor()); }, "tril"},
      // Found by the review of this sweep: a draw past the last category, a range wider than 2^53.
      {"multinomial tiny weight beside overflowing ones", []{ multinomial(from_vector<double>({1e308, 1e308, 1e-300}), 3, false); }, "multinomial"},
      {"randint wider than 2^53", []{ randint(-(int64_t{1} << 53), int64_t{1} << 53, {4}); }, "randint"},
      {"split of a 0-d tensor", []{ split(ones({}), 1); }, "split"},
      {"chunk of a 0-d tensor", []{ chunk(ones({}), 2); }, "chunk"},
      {"clamp_ int64 with a NaN bound", []{ from_vector<int64_t>({1, 2}).clamp_(NAN, std::nullopt); }, "clamp_"},
      {"sum_to of undefined", []{ sum_to(Tensor(), std::vector<int64_t>{3}); }, "sum_to"},
      {"GradScaler growth_interval inf", []{ optim::GradScaler g; g.load_state_dict({{"scale", scalar_tensor(2.0)}, {"growth_tracker", scalar_tensor(0.0)}, {"growth_interval", scalar_tensor(INFINITY, {.dtype = DType::Float64})}}); }},
      // Padding modes, ceil_mode, padding_mode and trunc_normal_ (tests/ops/test_pad_modes.cpp, tests/nn/test_pool_and_conv_modes.cpp).
      {"reflect pad as large as the dim", []{ pad(ones({1, 1, 5}), {5, 0}, "reflect"); }, "pad"},
      {"unknown pad mode", []{ pad(ones({1, 1, 5}), {1, 1}, "mirror"); }, "pad"},
      {"circular pad wrapping twice", []{ pad(ones({1, 1, 5}), {6, 0}, PadMode::Circular); }, "pad"},
      {"replicate pad of a 1-d tensor", []{ pad(ones({5}), {1, 1}, PadMode::Replicate); }, "pad"},
      {"reflect pad with a fill value", []{ pad(ones({1, 1, 5}), {1, 1}, PadMode::Reflect, 2.0); }, "pad"},
      {"PadMode out of range", []{ pad(ones({1, 1, 5}), {1, 1}, static_cast<PadMode>(9)); }, "pad"},
      {"ceil_mode max_pool2d with no window inside", []{ max_pool2d(ones({1, 1, 1, 1}), 3, 1, 0, true); }, "max_pool2d"},
      {"ceil_mode avg_pool2d with no window inside", []{ avg_pool2d(ones({1, 1, 1, 1}), 3, 1, 0, true, true); }, "avg_pool2d"},
      {"ConvTranspose2d padding_mode reflect", []{ nn::ConvTranspose2d(2, 3, 3, {.padding_mode = "reflect"}); }, "ConvTranspose2d"},
      {"Conv2d unknown padding_mode", []{ nn::Conv2d(2, 3, 3, {.padding_mode = "mirror"}); }, "Conv2d"},
      {"Conv1d reflect padding past the input", []{ (*nn::Conv1d(1, 1, 3, {.padding = 4, .padding_mode = "reflect"}))(ones({1, 1, 4})); }, "pad"},
      {"trunc_normal_ with a >= b", []{ Tensor t = empty({3}); nn::init::trunc_normal_(t, 0, 1, 2, -2); }, "trunc_normal_"},
      {"trunc_normal_ with std < 0", []{ Tensor t = empty({3}); nn::init::trunc_normal_(t, 0, -1); }, "trunc_normal_"},
      {"trunc_normal_ of an int64 tensor", []{ Tensor t = zeros({3}, {.dtype = DType::Int64}); nn::init::trunc_normal_(t); }, "trunc_normal_"},
      {"Upsample without size or scale_factor", []{ nn::Upsample({}); }, "Upsample"},
      {"AdaptiveAvgPool2d of size 0", []{ nn::AdaptiveAvgPool2d(0); }, "AdaptiveAvgPool2d"},
      // The solvers and decompositions (ops/decompositions.h, tests/linalg/).
      {"solve with a singular matrix", []{ linalg::solve(zeros({3, 3}), ones({3})); }, "linalg.solve"},
      {"inv of a batch with one singular entry", []{ linalg::inv(stack({eye(2), zeros({2, 2})}, 0)); }, "linalg.inv"},
      {"solve with B's rows not A's", []{ linalg::solve(eye(3), ones({4, 2})); }, "linalg.solve"},
      {"solve with batch dims that do not broadcast", []{ linalg::solve(ones({2, 3, 3}), ones({3, 3, 1})); }, "linalg.solve"},
      {"solve_triangular with a vector B", []{ linalg::solve_triangular(eye(3), ones({3}), false); }, "linalg.solve_triangular"},
      {"cholesky of an indefinite matrix", []{ linalg::cholesky(-eye(3)); }, "linalg.cholesky"},
      {"cholesky of a non-square matrix", []{ linalg::cholesky(ones({3, 2})); }, "linalg.cholesky"},
      {"det of an int64 matrix", []{ linalg::det(ones({2, 2}, {.dtype = DType::Int64})); }, "linalg.det"},
      {"inv of a float16 matrix outside autocast", []{ linalg::inv(eye(2).to(DType::Float16)); }, "linalg.inv"},
      {"eigh of a vector", []{ linalg::eigh(ones({3})); }, "linalg.eigh"},
      {"svd of a matrix with inf", []{ linalg::svd(full({2, 2}, INFINITY)); }, "linalg.svd"},
      {"svdvals of a NaN in a batch", []{ linalg::svdvals(stack({eye(2), full({2, 2}, NAN)}, 0)); }, "linalg.svdvals"},
      {"qr backward in R mode", []{ Tensor a = ones({3, 2}).requires_grad_(); linalg::qr(a, linalg::QRMode::R).R.sum().backward(); }, "linalg.qr"},
      {"cummax dim out of range", []{ cummax(ones({2, 3}), 2); }, "cummax"},
      // The functions built on them (ops/matrix_functions.h, tests/linalg/test_matrix_functions.cpp).
      {"matrix_norm of order 3", []{ linalg::matrix_norm(eye(3), 3.0); }, "linalg.matrix_norm"},
      {"matrix_norm of order 2 of a 0 x 0 matrix", []{ linalg::matrix_norm(zeros({0, 0}), 2.0); }, "linalg.matrix_norm"},
      {"vector_norm of a NaN order", []{ linalg::vector_norm(ones({3}), NAN); }, "linalg.vector_norm"},
      {"vector_norm of an int64 tensor", []{ linalg::vector_norm(ones({3}, {.dtype = DType::Int64})); }, "linalg.vector_norm"},
      {"vector_norm of order -inf over no entries", []{ linalg::vector_norm(zeros({2, 0}), -INFINITY, {-1}); }, "linalg.vector_norm"},
      {"vector_norm over a repeated dim", []{ linalg::vector_norm(ones({2, 3}), 2.0, {1, -1}); }, "linalg.vector_norm"},
      {"cond of order 1 of a non-square matrix", []{ linalg::cond(ones({3, 2}), 1.0); }, "linalg.cond"},
      {"cond of order 0.5", []{ linalg::cond(eye(2), 0.5); }, "linalg.cond"},
      {"matrix_rank with a negative atol", []{ linalg::matrix_rank(eye(2), {.atol = -1.0}); }, "linalg.matrix_rank"},
      {"pinv with hermitian and a non-square matrix", []{ linalg::pinv(ones({3, 2}), {.hermitian = true}); }, "linalg.pinv"},
      {"pinv of a vector", []{ linalg::pinv(ones({3})); }, "linalg.pinv"},
      // Composites report the errors of the ops they are written with as their own (they named
      // linalg.svd, linalg.svdvals, arange, zeros or full).
      {"pinv of a NaN matrix", []{ linalg::pinv(full({2, 2}, NAN)); }, "linalg.pinv"},
      {"matrix_rank of a NaN matrix", []{ linalg::matrix_rank(full({2, 2}, NAN)); }, "linalg.matrix_rank"},
      {"cond of order 2 of an inf matrix", []{ linalg::cond(full({2, 2}, INFINITY)); }, "linalg.cond"},
      {"cond Nuclear of a NaN matrix", []{ linalg::cond(full({2, 2}, NAN), linalg::MatrixNormKind::Nuclear); }, "linalg.cond"},
      {"matrix_norm of order 2 of a NaN matrix", []{ linalg::matrix_norm(full({2, 2}, NAN), 2.0); }, "linalg.matrix_norm"},
      {"linalg.norm of order 2 of a NaN matrix", []{ linalg::norm(full({2, 2}, NAN), 2.0, {0, 1}); }, "linalg.norm"},
      {"lstsq of a NaN matrix", []{ linalg::lstsq(full({3, 2}, NAN), ones({3, 1})); }, "linalg.lstsq"},
      {"rfft with n = 2^62", []{ rfft(ones({4}), int64_t{1} << 62); }, "rfft"},
      {"fft with n = 2^40", []{ fft(ones({4, 2}), int64_t{1} << 40); }, "fft"},
      {"irfft with n = 2^40", []{ irfft(ones({4, 2}), int64_t{1} << 40); }, "irfft"},
      {"lstsq with B's rows not A's", []{ linalg::lstsq(ones({4, 3}), ones({3, 2})); }, "linalg.lstsq"},
      {"lstsq with float32 A and float64 B", []{ linalg::lstsq(ones({4, 3}), ones({4, 2}, {.dtype = DType::Float64})); }, "linalg.lstsq"},
      {"lstsq with a negative rcond", []{ linalg::lstsq(ones({4, 3}), ones({4, 2}), -1.0); }, "linalg.lstsq"},
      {"lstsq with batch dims that do not broadcast", []{ linalg::lstsq(ones({2, 4, 3}), ones({3, 4, 2})); }, "linalg.lstsq"},
      {"matrix_power of a non-square matrix", []{ linalg::matrix_power(ones({3, 2}), 2); }, "linalg.matrix_power"},
      {"matrix_power -1 of a singular matrix", []{ linalg::matrix_power(zeros({2, 2}), -1); }, "linalg.matrix_power"},
      {"matrix_exp of a 1-d tensor", []{ linalg::matrix_exp(ones({3})); }, "linalg.matrix_exp"},
      {"matrix_exp of an int64 matrix", []{ linalg::matrix_exp(ones({2, 2}, {.dtype = DType::Int64})); }, "linalg.matrix_exp"},
      {"multi_dot of one matrix", []{ linalg::multi_dot({eye(2)}); }, "linalg.multi_dot"},
      {"multi_dot with a 3-d middle operand", []{ linalg::multi_dot({eye(2), ones({1, 2, 2}), eye(2)}); }, "linalg.multi_dot"},
      {"multi_dot with mismatched inner sizes", []{ linalg::multi_dot({ones({2, 3}), ones({2, 3}), ones({3, 2})}); }, "linalg.multi_dot"},
      {"multi_dot with mixed dtypes", []{ linalg::multi_dot({eye(2), eye(2, std::nullopt, {.dtype = DType::Float64})}); }, "linalg.multi_dot"},
      {"cross with a dim of size 2", []{ linalg::cross(ones({2}), ones({2})); }, "linalg.cross"},
      {"cross of 0-d tensors", []{ linalg::cross(ones({}), ones({})); }, "linalg.cross"},
      {"cross with shapes that do not broadcast", []{ linalg::cross(ones({2, 3}), ones({4, 3})); }, "linalg.cross"},
      {"vecdot dim out of range", []{ linalg::vecdot(ones({3}), ones({3}), 1); }, "linalg.vecdot"},
      {"vander of a 0-d tensor", []{ linalg::vander(ones({})); }, "linalg.vander"},
      {"vander with n = 0", []{ linalg::vander(ones({3}), 0); }, "linalg.vander"},
      {"lu_factor of a singular matrix", []{ linalg::lu_factor(zeros({3, 3})); }, "linalg.lu_factor"},
      {"lu_factor of a vector", []{ linalg::lu_factor(ones({3})); }, "linalg.lu_factor"},
      {"lu_factor_ex with check_errors on a singular batch entry", []{ linalg::lu_factor_ex(stack({eye(2), zeros({2, 2})}, 0), true, true); }, "linalg.lu_factor_ex"},
      {"lu without pivoting of [[0, 1], [1, 0]]", []{ linalg::lu(1.0 - eye(2), false); }, "linalg.lu"},
      {"lu of an int64 matrix", []{ linalg::lu(ones({2, 2}, {.dtype = DType::Int64})); }, "linalg.lu"},
      {"lu_unpack with int64 pivots", []{ linalg::lu_unpack(eye(3), arange(1, 4)); }, "linalg.lu_unpack"},
      {"lu_unpack with pivots of the wrong length", []{ linalg::lu_unpack(eye(3), arange(1, 3, 1, {.dtype = DType::Int32})); }, "linalg.lu_unpack"},
      {"lu_unpack with a pivot of 0", []{ linalg::lu_unpack(eye(3), zeros({3}, {.dtype = DType::Int32})); }, "linalg.lu_unpack"},
      {"lu_solve with a pivot past n", []{ linalg::lu_solve(eye(3), full({3}, Scalar(4), {.dtype = DType::Int32}), ones({3, 1})); }, "linalg.lu_solve"},
      {"lu_solve with a non-square LU", []{ linalg::lu_solve(ones({3, 2}), arange(1, 3, 1, {.dtype = DType::Int32}), ones({3, 1})); }, "linalg.lu_solve"},
      {"lu_solve with B's rows not n", []{ linalg::lu_solve(eye(3), arange(1, 4, 1, {.dtype = DType::Int32}), ones({4, 1})); }, "linalg.lu_solve"},
      {"lu_solve with a vector B", []{ linalg::lu_solve(eye(3), arange(1, 4, 1, {.dtype = DType::Int32}), ones({3})); }, "linalg.lu_solve"},
      {"lu_solve with float32 LU and float64 B", []{ linalg::lu_solve(eye(3), arange(1, 4, 1, {.dtype = DType::Int32}), ones({3, 1}, {.dtype = DType::Float64})); }, "linalg.lu_solve"},
      {"lu_solve with batch dims that do not broadcast", []{ linalg::lu_solve(ones({2, 3, 3}), ones({2, 3}, {.dtype = DType::Int32}), ones({3, 3, 1})); }, "linalg.lu_solve"},
      {"solve_ex with check_errors on a singular matrix", []{ linalg::solve_ex(zeros({2, 2}), ones({2}), true, true); }, "linalg.solve_ex"},
      {"inv_ex of a non-square matrix", []{ linalg::inv_ex(ones({3, 2})); }, "linalg.inv_ex"},
      {"cholesky_ex with check_errors on an indefinite matrix", []{ linalg::cholesky_ex(-eye(3), false, true); }, "linalg.cholesky_ex"},
      {"householder_product with m < n", []{ linalg::householder_product(ones({2, 3}), ones({2})); }, "linalg.householder_product"},
      {"householder_product with more scales than columns", []{ linalg::householder_product(ones({4, 2}), ones({3})); }, "linalg.householder_product"},
      {"householder_product with tau's batch not A's", []{ linalg::householder_product(ones({2, 4, 2}), ones({3, 2})); }, "linalg.householder_product"},
      {"householder_product of int64 tensors", []{ linalg::householder_product(ones({3, 2}, {.dtype = DType::Int64}), ones({2}, {.dtype = DType::Int64})); }, "linalg.householder_product"},
      {"tensorinv with ind = 0", []{ linalg::tensorinv(ones({2, 2}), 0); }, "linalg.tensorinv"},
      {"tensorinv of a shape that is not square", []{ linalg::tensorinv(ones({2, 3, 4}), 1); }, "linalg.tensorinv"},
      {"tensorinv of a singular tensor", []{ linalg::tensorinv(zeros({2, 2, 4}), 2); }, "linalg.tensorinv"},
      {"tensorsolve with A's shape not starting with B's", []{ linalg::tensorsolve(ones({3, 2, 6}), ones({2, 3})); }, "linalg.tensorsolve"},
      {"tensorsolve with a repeated dim", []{ linalg::tensorsolve(ones({2, 3, 6}), ones({6}), {0, 0}); }, "linalg.tensorsolve"},
      {"tensorsolve with a dim out of range", []{ linalg::tensorsolve(ones({6, 2, 3}), ones({6}), {3}); }, "linalg.tensorsolve"},
      {"tensorsolve of a system that is not square", []{ linalg::tensorsolve(ones({2, 3, 4}), ones({2, 3})); }, "linalg.tensorsolve"},
      {"cholesky_solve with B's rows not n", []{ linalg::cholesky_solve(ones({4, 1}), eye(3)); }, "linalg.cholesky_solve"},
      {"cholesky_solve with a non-square factor", []{ linalg::cholesky_solve(ones({3, 1}), ones({3, 2})); }, "linalg.cholesky_solve"},
      {"cholesky_solve with a vector B", []{ linalg::cholesky_solve(ones({3}), eye(3)); }, "linalg.cholesky_solve"},
      {"cholesky_solve with float64 B and float32 L", []{ linalg::cholesky_solve(ones({3, 1}, {.dtype = DType::Float64}), eye(3)); }, "linalg.cholesky_solve"},
      {"cholesky_solve with batch dims that do not broadcast", []{ linalg::cholesky_solve(ones({2, 3, 1}), ones({3, 3, 3})); }, "linalg.cholesky_solve"},
      {"cholesky_inverse of an int64 matrix", []{ linalg::cholesky_inverse(ones({2, 2}, {.dtype = DType::Int64})); }, "linalg.cholesky_inverse"},
      {"logdet of a float16 matrix outside autocast", []{ linalg::logdet(eye(2).to(DType::Float16)); }, "linalg.logdet"},
      {"logdet of a non-square matrix", []{ linalg::logdet(ones({2, 3})); }, "linalg.logdet"},
      {"geqrf of a vector", []{ linalg::geqrf(ones({3})); }, "linalg.geqrf"},
      {"geqrf backward", []{ Tensor a = ones({3, 2}).requires_grad_(); sum(linalg::geqrf(a).a).backward(); }, "linalg.geqrf"},
      {"ormqr with C's rows not A's", []{ linalg::ormqr(ones({4, 2}), ones({2}), ones({3, 2})); }, "linalg.ormqr"},
      {"ormqr with more scales than columns", []{ linalg::ormqr(ones({4, 2}), ones({3}), ones({4, 2})); }, "linalg.ormqr"},
      {"ormqr with C's batch not broadcasting", []{ linalg::ormqr(ones({2, 4, 2}), ones({2, 2}), ones({3, 4, 2})); }, "linalg.ormqr"},
      {"ormqr with a float64 C", []{ linalg::ormqr(ones({4, 2}), ones({2}), ones({4, 2}, {.dtype = DType::Float64})); }, "linalg.ormqr"},
      {"linalg.norm with an order of a 3-d tensor and no dims", []{ linalg::norm(ones({2, 2, 2}), 2.0); }, "linalg.norm"},
      {"linalg.norm over three dims", []{ linalg::norm(ones({2, 2, 2}), std::nullopt, {0, 1, 2}); }, "linalg.norm"},
      {"linalg.norm Nuclear over one dim", []{ linalg::norm(ones({2, 2}), linalg::MatrixNormKind::Nuclear, {0}); }, "linalg.norm"},
  };
  // Bluestein's plan for n = 2^22 + 1 needs ~450 MB beside the 64 MB input and output: its failure to
  // allocate must be an Error (it was a bad_alloc, or the end of the program inside a parallel region).
  if (!kAddressSanitizer)
    cases.push_back({"fft plan larger than memory", [] {
                       const Tensor x = ones({(int64_t{1} << 22) + 1, 2}, {.dtype = DType::Float64});
                       cap_memory(int64_t{160} << 20);
                       fft(x);
                     }, "fft"});
  for (const Case& c : cases) {
    INFO(c.name << " (child exit: 0 ember::Error, 1 accepted, 2 other exception, 3 no [op] prefix, 4 another op, "
                    ">128 signal)");
    CHECK(run_isolated(c) == 0);
  }
}
