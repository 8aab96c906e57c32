// The CUDA kernels the emulated tests run, compiled by the host compiler for the block emulator
// (backends/cuda/emulation.h; EMBER_CUDA_EMULATION is defined for this whole target). One file per
// translation unit: each .cu has its own anonymous namespace of helpers.
#include "backends/cuda/kernels_attention.cu"
