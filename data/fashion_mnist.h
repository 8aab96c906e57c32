#pragma once
// Fashion-MNIST (Zalando; 60,000 training and 10,000 test images of 28x28 clothing items in 10
// classes) read from the gzip'd IDX files of Debian's dataset-fashion-mnist package.
#include <string>

#include <ember/data/dataset.h>

namespace ember::data {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr const char* kFashionMnistClasses[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

// images float32 [N, 1, 28, 28] in [0, 1]; labels int64 [N]. A missing folder, a missing or malformed
// file is an ember::Error naming the folder or file and the package that installs the files.
std::shared_ptr<TensorDataset> fashion_mnist(bool train, const std::string& dir = kFashionMnistDir);

// Reads one IDX file (gzip'd or plain): the raw unsigned bytes as uint8 of the file's shape.
Tensor read_idx(const std::string& path);

}  // namespace ember::data
