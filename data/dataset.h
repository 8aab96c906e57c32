#pragma once
// Datasets and the DataLoader that batches, shuffles and prefetches them.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <ember/core/generator.h>
#include <ember/core/tensor.h>

namespace ember::data {

struct Batch {
  Tensor data;
  Tensor target;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // The examples at `indices`, stacked along a new first dim.
  virtual Batch get_batch(const std::vector<int64_t>& indices) const = 0;
};

// Examples are rows of two tensors (targets may be undefined).
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor data, Tensor targets);
  int64_t size() const override { return data_.size(0); }
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const Tensor& data() const { return data_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor data_, targets_;
};

struct DataLoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = false;
  bool drop_last = false;
  int64_t prefetch = 2;  // batches made ahead on a background thread (0: on the caller's thread)
  uint64_t seed = 0;     // the shuffle's own generator: epochs differ, runs repeat
};

// Iterates over one epoch per begin(): `for (const Batch& b : loader) ...`. With shuffle, epoch e uses
// the permutation drawn from Generator(seed) after e earlier epochs, so a resumed run can skip to it
// with set_epoch.
class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t num_batches() const;
  void set_epoch(int64_t epoch) { set_position(epoch, 0); }
  // Where a resumed run continues: the next epoch starts after its first `batches_done` batches.
  // Both non-negative (an ember::Error otherwise); past the epoch's end, the epoch is empty.
  void set_position(int64_t epoch, int64_t batches_done);
  int64_t epoch() const { return epoch_; }

  class Iterator {
   public:
    Iterator(DataLoader* loader, bool end);
    const Batch& operator*() const { return current_; }
    const Batch* operator->() const { return &current_; }
    Iterator& operator++();
    bool operator!=(const Iterator& o) const { return done_ != o.done_; }

   private:
    DataLoader* loader_;
    uint64_t pass_;  // the loader's pass this iterator walks
    Batch current_;
    bool done_;
  };
  Iterator begin();
  Iterator end() { return Iterator(this, true); }

 private:
  int64_t dataset_size() const;
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  void start_epoch();
  std::optional<Batch> next();
  void stop_worker();

  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  int64_t epoch_ = 0;
  int64_t skip_ = 0;
  // Counts begin() calls: the loader holds one position, so an iterator from an earlier pass (the
  // outer loop of `for (b : loader) for (c : loader)`) can no longer go on, and says so.
  uint64_t pass_ = 0;
  std::vector<std::vector<int64_t>> batches_;
  size_t next_batch_ = 0;
  // background prefetching
  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Batch> ready_;
  std::exception_ptr error_;
  size_t produced_ = 0, consumed_ = 0;
  bool stop_ = false;
};

}  // namespace ember::data
