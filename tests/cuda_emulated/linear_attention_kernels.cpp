// See attention_kernels.cpp: causal linear attention's CUDA kernels, for the block emulator.
#include "backends/cuda/kernels_linear_attention.cu"
