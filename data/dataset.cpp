#include <ember/data/dataset.h>

#include <omp.h>

#include <algorithm>

#include <ember/core/philox.h>
#include <ember/ops/ops.h>

namespace ember::data {

TensorDataset::TensorDataset(Tensor data, Tensor targets) : data_(std::move(data)), targets_(std::move(targets)) {
  EMBER_CHECK(data_.defined() && data_.dim() >= 1, "TensorDataset", "data needs a first (example) dimension");
  EMBER_CHECK(!targets_.defined() || (targets_.dim() >= 1 && targets_.size(0) == data_.size(0)), "TensorDataset",
              "data has {} examples but targets have shape {}", data_.size(0),
              targets_.defined() ? shape_str(targets_.shape()) : "undefined");
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  NoGradGuard no_grad;
  for (int64_t i : indices)
    EMBER_CHECK(i >= 0 && i < data_.size(0), "TensorDataset", "example {} is out of range for a dataset of {}", i,
                data_.size(0));
  Tensor idx = from_vector(indices);
  return {index_select(data_, 0, idx), targets_.defined() ? index_select(targets_, 0, idx) : Tensor()};
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options) {
  EMBER_CHECK(dataset_ != nullptr, "DataLoader", "no dataset");
  EMBER_CHECK(options_.batch_size > 0, "DataLoader", "batch_size must be positive, got {}", options_.batch_size);
  EMBER_CHECK(options_.prefetch >= 0, "DataLoader", "prefetch must be >= 0, got {}", options_.prefetch);
}

DataLoader::~DataLoader() { stop_worker(); }

void DataLoader::set_position(int64_t epoch, int64_t batches_done) {
  // (epochs below 2^62: the epoch counter then never overflows, however many epochs follow)
  EMBER_CHECK(epoch >= 0 && epoch < (int64_t{1} << 62) && batches_done >= 0, "DataLoader",
              "position must be non-negative (and the epoch below 2^62), got epoch {} and {} batches done", epoch,
              batches_done);
  epoch_ = epoch;
  skip_ = batches_done;
}

int64_t DataLoader::dataset_size() const {
  const int64_t n = dataset_->size();  // a user's Dataset may return anything
  EMBER_CHECK(n >= 0, "DataLoader", "the dataset's size() returned {}, a negative number of examples", n);
  return n;
}

int64_t DataLoader::num_batches() const {
  const int64_t n = dataset_size(), b = options_.batch_size;
  return options_.drop_last ? n / b : ceil_div(n, b);
}

// Fisher-Yates with the Philox stream of (seed, epoch): the same seed gives the same epochs.
std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  const int64_t n = dataset_size();
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (!options_.shuffle) return order;
  const uint64_t base = static_cast<uint64_t>(epoch) * static_cast<uint64_t>(n);
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t j = random_bits64(options_.seed, base + static_cast<uint64_t>(i)) % static_cast<uint64_t>(i + 1);
    std::swap(order[i], order[j]);
  }
  return order;
}

void DataLoader::stop_worker() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard lock(mutex_);
  stop_ = false;
  ready_.clear();
  error_ = nullptr;
}

void DataLoader::start_epoch() {
  stop_worker();
  std::vector<int64_t> order = epoch_order(epoch_);
  batches_.clear();
  for (int64_t start = 0; start < static_cast<int64_t>(order.size()); start += options_.batch_size) {
    const int64_t end = std::min<int64_t>(start + options_.batch_size, order.size());
    if (options_.drop_last && end - start < options_.batch_size) break;
    batches_.emplace_back(order.begin() + start, order.begin() + end);
  }
  batches_.erase(batches_.begin(), batches_.begin() + std::min<int64_t>(skip_, static_cast<int64_t>(batches_.size())));
  skip_ = 0;
  next_batch_ = 0;
  produced_ = consumed_ = 0;
  ++epoch_;
  if (options_.prefetch == 0) return;
  worker_ = std::thread([this] {
    omp_set_num_threads(1);  // the training thread keeps the cores; this one only gathers rows
    try {
      for (size_t i = 0; i < batches_.size(); ++i) {
        Batch b = dataset_->get_batch(batches_[i]);
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || ready_.size() < static_cast<size_t>(options_.prefetch); });
        if (stop_) return;
        ready_.push_back(std::move(b));
        ++produced_;
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard lock(mutex_);
      error_ = std::current_exception();
      cv_.notify_all();
    }
  });
}

std::optional<Batch> DataLoader::next() {
  if (options_.prefetch == 0) {
    if (next_batch_ >= batches_.size()) return std::nullopt;
    return dataset_->get_batch(batches_[next_batch_++]);
  }
  std::unique_lock lock(mutex_);
  if (consumed_ >= batches_.size()) return std::nullopt;
  cv_.wait(lock, [&] { return !ready_.empty() || error_; });
  if (ready_.empty() && error_) std::rethrow_exception(error_);
  Batch b = std::move(ready_.front());
  ready_.pop_front();
  ++consumed_;
  cv_.notify_all();
  return b;
}

DataLoader::Iterator DataLoader::begin() {
  start_epoch();
  ++pass_;
  return Iterator(this, false);
}

DataLoader::Iterator::Iterator(DataLoader* loader, bool end) : loader_(loader), pass_(loader->pass_), done_(end) {
  if (!done_) ++*this;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  EMBER_CHECK(pass_ == loader_->pass_, "DataLoader",
              "an iteration was overtaken by a new one over the same loader (begin() was called again, as when a "
              "loader is iterated inside its own loop): it would skip the rest of its epoch; iterate a second "
              "DataLoader over the same dataset instead");
  std::optional<Batch> b = loader_->next();
  if (b) current_ = std::move(*b);
  else done_ = true;
  return *this;
}

}  // namespace ember::data
