#pragma once
// The classifier of examples/classify (the W3 network of docs/benchmarks.md, with dropout). Shared with
// examples/gan, whose Frechet distance is computed in this network's penultimate features.
#include <memory>

#include <ember/nn/nn.h>

namespace ember::examples {

// conv(1->32, 3x3, pad 1)-ReLU-maxpool 2, conv(32->64, 3x3, pad 1)-ReLU-maxpool 2, flatten,
// linear(3136->128)-ReLU-dropout-linear(128->10).
inline std::shared_ptr<nn::SequentialImpl> make_classifier() {
  return nn::Sequential({nn::Conv2d(1, 32, 3, {.padding = {1, 1}}), nn::ReLU(), nn::MaxPool2d(2),
                         nn::Conv2d(32, 64, 3, {.padding = {1, 1}}), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                         nn::Linear(3136, 128), nn::ReLU(), nn::Dropout(0.25), nn::Linear(128, 10)});
}

// How many leading modules of make_classifier() give the 128 penultimate features (after the ReLU,
// before dropout and the last linear layer).
inline constexpr size_t kClassifierFeatureModules = 9;

}  // namespace ember::examples
