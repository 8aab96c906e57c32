#pragma once
// A vector that keeps up to N elements inline. Shapes and strides are almost always short, and
// allocating them on the heap would dominate the cost of small ops (see W8 in docs/benchmarks.md).
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <span>
#include <type_traits>

namespace ember {

template <typename T, size_t N>
class SmallVector {
  static_assert(std::is_trivially_copyable_v<T>, "SmallVector holds plain values");

 public:
  using value_type = T;
  using iterator = T*;
  using const_iterator = const T*;

  SmallVector() = default;
  explicit SmallVector(size_t n, T value = T{}) { assign(n, value); }
  SmallVector(std::initializer_list<T> init) { assign(init.begin(), init.end()); }
  template <typename It, typename = decltype(*std::declval<It>())>
  SmallVector(It first, It last) { assign(first, last); }
  SmallVector(std::span<const T> s) { assign(s.begin(), s.end()); }
  SmallVector(const SmallVector& o) { assign(o.begin(), o.end()); }
  SmallVector(SmallVector&& o) noexcept { move_from(o); }
  SmallVector& operator=(const SmallVector& o) {
    if (this != &o) assign(o.begin(), o.end());
    return *this;
  }
  SmallVector& operator=(SmallVector&& o) noexcept {
    if (this != &o) { heap_.reset(); move_from(o); }
    return *this;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return heap_ ? heap_.get() : inline_; }
  const T* data() const { return heap_ ? heap_.get() : inline_; }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T& back() { return data()[size_ - 1]; }
  const T& back() const { return data()[size_ - 1]; }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  operator std::span<const T>() const { return {data(), size_}; }

  void reserve(size_t n) {
    if (n <= capacity()) return;
    auto bigger = std::make_unique<T[]>(n);
    std::copy(begin(), end(), bigger.get());
    heap_ = std::move(bigger);
    heap_capacity_ = n;
  }
  void resize(size_t n, T value = T{}) {
    reserve(n);
    for (size_t i = size_; i < n; ++i) data()[i] = value;
    size_ = n;
  }
  void push_back(T v) {
    if (size_ == capacity()) reserve(std::max<size_t>(2 * capacity(), 1));
    data()[size_++] = v;
  }
  void insert(const T* pos, T v) {
    const size_t i = pos - begin();
    push_back(v);
    std::rotate(begin() + i, end() - 1, end());
  }
  void erase(const T* pos) {
    const size_t i = pos - begin();
    std::copy(begin() + i + 1, end(), begin() + i);
    --size_;
  }
  void pop_back() { --size_; }
  void clear() { size_ = 0; }

  bool operator==(const SmallVector& o) const { return std::equal(begin(), end(), o.begin(), o.end()); }

 private:
  size_t capacity() const { return heap_ ? heap_capacity_ : N; }
  void assign(size_t n, T value) {
    size_ = 0;
    resize(n, value);
  }
  template <typename It>
  void assign(It first, It last) {
    const size_t n = static_cast<size_t>(std::distance(first, last));
    size_ = 0;
    reserve(n);
    std::copy(first, last, data());
    size_ = n;
  }
  void move_from(SmallVector& o) {
    size_ = o.size_;
    if (o.heap_) {
      heap_ = std::move(o.heap_);
      heap_capacity_ = o.heap_capacity_;
    } else {
      std::memcpy(inline_, o.inline_, sizeof(T) * size_);
    }
    o.size_ = 0;
  }

  T inline_[N];
  std::unique_ptr<T[]> heap_;
  size_t heap_capacity_ = 0;
  size_t size_ = 0;
};

}  // namespace ember
