// See attention_kernels.cpp: the softmax and layer_norm row kernels, for the block emulator.
#include "backends/cuda/kernels_rows.cu"
