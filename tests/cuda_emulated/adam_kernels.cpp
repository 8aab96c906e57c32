// See attention_kernels.cpp: the fused Adam step's CUDA kernel, for the block emulator.
#include "backends/cuda/kernels_adam.cu"
