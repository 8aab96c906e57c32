// See attention_kernels.cpp: the selective scan's CUDA kernels, for the block emulator.
#include "backends/cuda/kernels_scan.cu"
