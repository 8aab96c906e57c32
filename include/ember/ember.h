#pragma once
// The public API of ember, in one include: tensors, ops and autograd, modules, optimizers, files,
// datasets and the CUDA runtime. Programs that want less include the headers below directly; they
// are installed under the same names (<ember/core/tensor.h>, <ember/nn/module.h>, ...).
// <ember/testing/gradcheck.h>, for checking the backward of ops users write, is not included.

// Tensors, dtypes, devices, the autograd engine and its functional transforms.
#include <ember/core/autocast.h>
#include <ember/core/autograd.h>
#include <ember/core/device.h>
#include <ember/core/dtype.h>
#include <ember/core/error.h>
#include <ember/core/format.h>
#include <ember/core/functional.h>
#include <ember/core/generator.h>
#include <ember/core/info.h>
#include <ember/core/profiler.h>
#include <ember/core/tensor.h>

// Every op, and ops/op.h for writing new ones.
#include <ember/ops/ops.h>

// Modules and optimizers.
#include <ember/nn/nn.h>
#include <ember/optim/optim.h>

// Files: safetensors, checkpoints, PNG grids, SVG plots, atomic writes.
#include <ember/io/checkpoint.h>
#include <ember/io/file.h>
#include <ember/io/image.h>
#include <ember/io/plot.h>
#include <ember/io/plot_contour.h>
#include <ember/io/safetensors.h>

// Datasets and the DataLoader.
#include <ember/data/dataset.h>
#include <ember/data/fashion_mnist.h>
#include <ember/data/text.h>

// CUDA devices, synchronisation and memory statistics (present in every build; without the CUDA
// backend there are no devices).
#include <ember/backends/cuda/cuda.h>
