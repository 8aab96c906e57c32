#include <ember/optim/composite_schedules.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include <fmt/ranges.h>

#include <ember/ops/ops.h>

namespace ember::optim {

namespace {

void check_schedules(const char* composite, const std::vector<std::shared_ptr<LRScheduler>>& schedulers,
                     const Optimizer* optimizer) {
  EMBER_CHECK(!schedulers.empty(), composite, "needs at least one schedule");
  for (size_t i = 0; i < schedulers.size(); ++i) {
    EMBER_CHECK(schedulers[i] != nullptr, composite, "schedule {} is null", i);
    if (!optimizer) optimizer = &schedulers[i]->optimizer();
    EMBER_CHECK(&schedulers[i]->optimizer() == optimizer, composite,
                "schedule {} ({}) is built on another optimizer than the first", i, schedulers[i]->name());
  }
}

NamedTensors prefixed_states(const std::vector<std::shared_ptr<LRScheduler>>& schedulers) {
  NamedTensors out;
  for (size_t i = 0; i < schedulers.size(); ++i)
    for (auto& [key, value] : schedulers[i]->state_dict()) out.emplace_back(fmt::format("schedulers.{}.{}", i, key), value);
  return out;
}

// Splits "schedulers.I.key" entries by I (a refused entry names the composite); other keys go to `rest`.
std::vector<NamedTensors> split_states(const char* composite, const NamedTensors& state, size_t count, NamedTensors& rest) {
  std::vector<NamedTensors> parts(count);
  for (const auto& [key, value] : state) {
    if (key.rfind("schedulers.", 0) != 0) {
      rest.emplace_back(key, value);
      continue;
    }
    const char* first = key.data() + 11;
    const char* last = key.data() + key.size();
    size_t i = 0;
    const auto [end, error] = std::from_chars(first, last, i);
    EMBER_CHECK(error == std::errc() && end != last && *end == '.', composite,
                "unexpected key \"{}\": expected schedulers.I.name", key);
    EMBER_CHECK(i < count, composite, "\"{}\" names schedule {}, but there are {}", key, i, count);
    parts[i].emplace_back(std::string(end + 1), value);
  }
  return parts;
}

// Loads every part or none: a refused part puts back the schedules loaded before it.
void load_all(const std::vector<std::shared_ptr<LRScheduler>>& schedulers, const std::vector<NamedTensors>& parts) {
  std::vector<NamedTensors> old;
  for (auto& s : schedulers) old.push_back(s->state_dict());
  size_t loaded = 0;
  try {
    for (; loaded < schedulers.size(); ++loaded) schedulers[loaded]->load_state_dict(parts[loaded]);
  } catch (const Error&) {
    for (size_t i = 0; i < loaded; ++i) schedulers[i]->load_state_dict(old[i]);
    throw;
  }
}

}  // namespace

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : optimizer_(optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  check_schedules("SequentialLR", schedulers_, &optimizer_);
  EMBER_CHECK(milestones_.size() + 1 == schedulers_.size(), "SequentialLR",
              "needs one milestone fewer than schedules, got {} milestones for {} schedules", milestones_.size(),
              schedulers_.size());
  // PyTorch takes unsorted or repeated milestones and then skips schedules without a word.
  for (size_t i = 0; i < milestones_.size(); ++i)
    EMBER_CHECK(milestones_[i] > (i ? milestones_[i - 1] : 0), "SequentialLR",
                "milestones must be positive and increasing, got [{}]", fmt::join(milestones_, ", "));
  // The first schedule starts over from the initial lrs, undoing what the others wrote when they were built.
  schedulers_[0]->restart(initial_lrs());
}

std::vector<double> SequentialLR::initial_lrs() const {
  std::vector<double> out;
  for (const auto& g : optimizer_.param_groups()) out.push_back(g.initial_lr.value_or(g.get("lr")));
  return out;
}

void SequentialLR::step() {
  ++last_epoch_;
  const size_t index = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  try {
    if (index > 0 && milestones_[index - 1] == last_epoch_) schedulers_[index]->restart(initial_lrs());
    else schedulers_[index]->step();
  } catch (const Error&) {
    --last_epoch_;
    throw;
  }
}

std::vector<double> SequentialLR::get_last_lr() const { return schedulers_[0]->get_last_lr(); }

NamedTensors SequentialLR::state_dict() const {
  NamedTensors out{{"last_epoch", scalar_tensor(static_cast<double>(last_epoch_), {.dtype = DType::Float64})}};
  for (auto& entry : prefixed_states(schedulers_)) out.push_back(std::move(entry));
  return out;
}

void SequentialLR::load_state_dict(const NamedTensors& state) {
  NamedTensors rest;
  const std::vector<NamedTensors> parts = split_states("SequentialLR", state, schedulers_.size(), rest);
  int64_t last_epoch = last_epoch_;
  for (const auto& [key, value] : rest) {
    EMBER_CHECK(key == "last_epoch", "SequentialLR", "unexpected key \"{}\"", key);
    EMBER_CHECK(value.defined() && value.numel() == 1, "SequentialLR", "\"last_epoch\" must be a single number");
    const double number = value.item<double>();
    EMBER_CHECK(number >= 0 && number <= 9007199254740992.0 && number == std::floor(number), "SequentialLR",
                "\"last_epoch\" must be a whole number in [0, 2^53], got {}", number);
    last_epoch = static_cast<int64_t>(number);
  }
  load_all(schedulers_, parts);
  last_epoch_ = last_epoch;
}

ChainedScheduler::ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers) : schedulers_(std::move(schedulers)) {
  check_schedules("ChainedScheduler", schedulers_, nullptr);
}

void ChainedScheduler::step() {
  // All or none: a later schedule's refusal (a NaN lr) puts back the lrs and counts the earlier ones
  // had already stepped.
  Optimizer& optimizer = schedulers_[0]->optimizer_;
  std::vector<std::map<std::string, double>> options;
  for (const auto& g : optimizer.param_groups()) options.push_back(g.options);
  std::vector<NamedTensors> old;
  std::vector<std::vector<double>> old_written;
  for (auto& s : schedulers_) old.push_back(s->state_dict()), old_written.push_back(s->written_lrs_);
  size_t stepped = 0;
  try {
    for (; stepped < schedulers_.size(); ++stepped) schedulers_[stepped]->step();
  } catch (const Error&) {
    for (size_t i = 0; i < options.size(); ++i) optimizer.param_groups()[i].options = options[i];
    for (size_t i = 0; i < stepped; ++i) {
      schedulers_[i]->load_state_dict(old[i]);
      schedulers_[i]->written_lrs_ = old_written[i];
    }
    throw;
  }
}

std::vector<double> ChainedScheduler::get_last_lr() const { return schedulers_.back()->get_last_lr(); }

NamedTensors ChainedScheduler::state_dict() const { return prefixed_states(schedulers_); }

void ChainedScheduler::load_state_dict(const NamedTensors& state) {
  NamedTensors rest;
  const std::vector<NamedTensors> parts = split_states("ChainedScheduler", state, schedulers_.size(), rest);
  for (const auto& entry : rest) EMBER_FAIL("ChainedScheduler", "unexpected key \"{}\"", entry.first);
  load_all(schedulers_, parts);
}

}  // namespace ember::optim
