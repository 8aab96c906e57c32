#pragma once
// Discrete Fourier transforms with autograd, for long convolutions (nn::S4D) and spectral methods.
//
// Complex numbers are real tensors with a trailing dim of 2 holding (real, imaginary): a complex
// signal of n samples is [..., n, 2], and the transforms run along the dim before the last. Real
// signals (rfft's input, irfft's output) are [..., n], transformed along the last dim. Every leading
// dim is a batch dim.
//
// Definitions and normalisation are torch.fft's defaults ("backward"): the forward transforms are
// unscaled, the inverse ones divide by n.
//   fft(x, n)    [..., m, 2] -> [..., n, 2]     X_k = sum_j x_j e^(-2 pi i j k / n)
//   ifft(x, n)   [..., m, 2] -> [..., n, 2]     x_j = (1/n) sum_k X_k e^(+2 pi i j k / n)
//   rfft(x, n)   real [..., L] -> [..., n/2 + 1, 2]   the non-negative frequencies of fft of a real x
//   irfft(X, n)  [..., m, 2] -> real [..., n]   the inverse of rfft: X is the first half of a Hermitian
//                spectrum (Y_k = X_k for k <= n/2, Y_k = conj(X_(n-k)) above), x = Re(ifft(Y)); the
//                imaginary parts of X_0 and (n even) X_(n/2) do not matter.
// n = -1 takes the input's length (irfft: 2 (m - 1)); a longer n zero-pads the input at the end and a
// shorter one truncates it, as torch.fft does (irfft fits its input to n/2 + 1 frequencies).
// n / 2 rounds down.
//
// float32 and float64 compute in their own precision; float16 and bfloat16 compute in float32 and
// return their own dtype. Any n >= 1 works (radix-2 for powers of two, Bluestein's algorithm for the
// rest on the CPU; cuFFT on CUDA). Gradients are the adjoint transforms (the gradient of an
// unnormalised DFT is the DFT with the opposite sign; rfft and irfft weigh the frequencies that stand
// for a conjugate pair twice), written with these same ops, so they are differentiable again.
// Bad input (an integer tensor, no trailing dim of 2, n < 1, an empty transform dim) is an
// ember::Error naming the op, the shape and the dtype.
#include <ember/core/tensor.h>

namespace ember {

Tensor fft(const Tensor& x, int64_t n = -1);
Tensor ifft(const Tensor& x, int64_t n = -1);
Tensor rfft(const Tensor& x, int64_t n = -1);
Tensor irfft(const Tensor& x, int64_t n = -1);

}  // namespace ember
