/* One time step of snnTorch's Leaky (and Lapicque) and Synaptic neurons with a fused surrogate spike function,
 * forward and backward, in one pass over the tensors instead of one pass per PyTorch operation.
 *
 * Every line is one float32 operation of the eager fast engine (spikebench.model.cells with
 * spikebench.neurons.fused_surrogates), in the same order: each intermediate is rounded to float32 as a
 * PyTorch operation rounds it. Built with -ffp-contract=off, so that no multiply and add are contracted into a
 * fused multiply-add (which rounds once instead of twice). The numbers are bit for bit the eager engine's
 * (tested). Element-wise with a static schedule, so the number of threads changes no result.
 */
#include <math.h>
#include <stdint.h>

enum surrogate_kind { FAST_SIGMOID = 0, SPARSE_FAST_SIGMOID = 1, ATAN = 2, TRIANGULAR = 3, STRAIGHT_THROUGH = 4 };

#define PARALLEL_ABOVE 32768

/* d spikes / d h times the incoming gradient, as spikebench.neurons.fused_surrogates computes it. */
static inline float surrogate_gradient(int kind, float grad, float h, float first, float second) {
    switch (kind) {
    case FAST_SIGMOID:
    case SPARSE_FAST_SIGMOID: {
        float denominator = fabsf(h);
        denominator = denominator * first;
        denominator = denominator + 1.0f;
        denominator = denominator * denominator;
        float gradient = grad / denominator;
        if (kind == SPARSE_FAST_SIGMOID) {
            gradient = gradient * (h > second ? 1.0f : 0.0f);
        }
        return gradient;
    }
    case ATAN: {
        float scaled = h * first;
        scaled = scaled * scaled;
        scaled = scaled + 1.0f;
        scaled = 1.0f / scaled;
        scaled = scaled * second;
        return scaled * grad;
    }
    case TRIANGULAR: {
        float factor = (h >= 0.0f ? 1.0f : 0.0f) * first;
        factor = factor + second;
        return factor * grad;
    }
    default:
        return grad;
    }
}

/* The surrogate's input h = membrane - threshold (kept for the backward pass unless ``h`` is NULL) and its
 * forward pass, spikes = h > 0. */
static inline void fire(float membrane, float threshold, float *h, float *spikes, int64_t i) {
    float above = membrane - threshold;
    if (h) {
        h[i] = above;
    }
    spikes[i] = above > 0.0f ? 1.0f : 0.0f;
}

/* Forward of one step, in place: reset = membrane > threshold (the previous step's spikes); membrane = decay *
 * membrane + drive - reset * threshold; h = membrane - threshold; spikes = h > 0. ``h`` (the surrogate's input,
 * kept for the backward pass) may be NULL. */
void leaky_forward(int64_t n, float decay, float threshold, float *membrane, const float *drive, float *h,
                   float *spikes) {
#pragma omp parallel for simd schedule(static) if (n > PARALLEL_ABOVE)
    for (int64_t i = 0; i < n; i++) {
        float reset = membrane[i] > threshold ? 1.0f : 0.0f;
        float value = decay * membrane[i];
        value = value + drive[i];
        value = value - reset * threshold;
        membrane[i] = value;
        fire(value, threshold, h, spikes, i);
    }
}

/* Forward of one step, in place: synaptic = synaptic_decay * synaptic + drive, then the leaky step on it. */
void synaptic_forward(int64_t n, float synaptic_decay, float decay, float threshold, float *synaptic,
                      float *membrane, const float *drive, float *h, float *spikes) {
#pragma omp parallel for simd schedule(static) if (n > PARALLEL_ABOVE)
    for (int64_t i = 0; i < n; i++) {
        float reset = membrane[i] > threshold ? 1.0f : 0.0f;
        float current = synaptic_decay * synaptic[i];
        current = current + drive[i];
        synaptic[i] = current;
        float value = decay * membrane[i];
        value = value + current;
        value = value - reset * threshold;
        membrane[i] = value;
        fire(value, threshold, h, spikes, i);
    }
}

/* The gradient reaching one membrane: the surrogate's through this step's spikes (if they have a gradient)
 * plus the next membrane's times ``decay`` (if there is a next step with a gradient), as autograd adds them. */
static inline float membrane_gradient(int kind, float first, float second, const float *grad_spikes, const float *h,
                                      const float *grad_next, float decay, int64_t i) {
    if (grad_spikes && grad_next) {
        return surrogate_gradient(kind, grad_spikes[i], h[i], first, second) + grad_next[i] * decay;
    }
    if (grad_spikes) {
        return surrogate_gradient(kind, grad_spikes[i], h[i], first, second);
    }
    return grad_next[i] * decay;
}

/* Backward of one leaky step: the membrane's gradient (also the drive's), written over ``grad_next`` where they
 * are the same buffer. With ``sum`` non-NULL, the gradient is also added to it: a drive repeated at every step
 * collects its gradients in reverse time order, as autograd does. */
void leaky_backward(int64_t n, int kind, float first, float second, float decay, const float *grad_spikes,
                    const float *h, const float *grad_next, float *grad_membrane, float *sum) {
#pragma omp parallel for simd schedule(static) if (n > PARALLEL_ABOVE)
    for (int64_t i = 0; i < n; i++) {
        float gradient = membrane_gradient(kind, first, second, grad_spikes, h, grad_next, decay, i);
        grad_membrane[i] = gradient;
        if (sum) {
            sum[i] = sum[i] + gradient;
        }
    }
}

/* Backward of one synaptic step: the membrane's gradient, then the synaptic current's (also the drive's), which
 * adds the next synaptic current's times ``synaptic_decay``; each may be written over its ``grad_next``. ``sum``
 * as in leaky_backward, for the drive. */
void synaptic_backward(int64_t n, int kind, float first, float second, float synaptic_decay, float decay,
                       const float *grad_spikes, const float *h, const float *grad_next_membrane,
                       const float *grad_next_synaptic, float *grad_membrane, float *grad_synaptic, float *sum) {
#pragma omp parallel for simd schedule(static) if (n > PARALLEL_ABOVE)
    for (int64_t i = 0; i < n; i++) {
        float gradient = membrane_gradient(kind, first, second, grad_spikes, h, grad_next_membrane, decay, i);
        float synaptic = grad_next_synaptic ? gradient + grad_next_synaptic[i] * synaptic_decay : gradient;
        grad_membrane[i] = gradient;
        grad_synaptic[i] = synaptic;
        if (sum) {
            sum[i] = sum[i] + synaptic;
        }
    }
}

/* Forward of one alpha step, in place, as spikebench.model.cells.AlphaCell charges: kept = 1 - reset (reset =
 * membrane > threshold, the previous step's spikes); excitatory = alpha * excitatory + drive; inhibitory =
 * beta * inhibitory - drive; membrane = tau_alpha * (excitatory + inhibitory); all three times kept. */
void alpha_forward(int64_t n, float alpha, float beta, float tau_alpha, float threshold, float *excitatory,
                   float *inhibitory, float *membrane, const float *drive, float *h, float *spikes) {
#pragma omp parallel for simd schedule(static) if (n > PARALLEL_ABOVE)
    for (int64_t i = 0; i < n; i++) {
        float kept = 1.0f - (membrane[i] > threshold ? 1.0f : 0.0f);
        float rising = alpha * excitatory[i];
        rising = rising + drive[i];
        float falling = beta * inhibitory[i];
        falling = falling - drive[i];
        float value = rising + falling;
        value = tau_alpha * value;
        excitatory[i] = rising * kept;
        inhibitory[i] = falling * kept;
        value = value * kept;
        membrane[i] = value;
        fire(value, threshold, h, spikes, i);
    }
}

/* Backward of one alpha step. The step's mask is kept = 1 - (reset_source > reset_threshold): the previous
 * step's h against 0, or the initial membrane against the threshold. The membrane's gradient is the
 * surrogate's (plus the final membrane's at the last step); the excitatory and inhibitory values' are its share
 * through tau_alpha plus the next step's times alpha (beta) through the mask, and may be written over the next
 * step's. The drive's gradient is the excitatory one minus the inhibitory one, written to ``grad_drive``, or,
 * with ``sum`` non-NULL, added to it as autograd collects a drive repeated at every step: the inhibitory
 * term first. */
void alpha_backward(int64_t n, int kind, float first, float second, float alpha, float beta, float tau_alpha,
                    float reset_threshold, const float *reset_source, const float *grad_spikes, const float *h,
                    const float *grad_final_membrane, const float *grad_next_excitatory,
                    const float *grad_next_inhibitory, float *grad_excitatory, float *grad_inhibitory,
                    float *grad_drive, float *sum) {
#pragma omp parallel for simd schedule(static) if (n > PARALLEL_ABOVE)
    for (int64_t i = 0; i < n; i++) {
        float kept = 1.0f - (reset_source[i] > reset_threshold ? 1.0f : 0.0f);
        float membrane = surrogate_gradient(kind, grad_spikes[i], h[i], first, second);
        if (grad_final_membrane) {
            membrane = membrane + grad_final_membrane[i];
        }
        float shared = membrane * kept;
        shared = shared * tau_alpha;
        float rising = shared;
        if (grad_next_excitatory) {
            float carried = grad_next_excitatory[i] * alpha;
            rising = rising + carried * kept;
        }
        float falling = shared;
        if (grad_next_inhibitory) {
            float carried = grad_next_inhibitory[i] * beta;
            falling = falling + carried * kept;
        }
        grad_excitatory[i] = rising;
        grad_inhibitory[i] = falling;
        if (sum) {
            float total = sum[i] + -falling;
            sum[i] = total + rising;
        } else {
            grad_drive[i] = rising + -falling;
        }
    }
}

/* Forward of one step of spikebench's LIF (spikebench.neurons.functional.lif_step), in place: V = V + (I - V) *
 * rate; h = V - threshold; spikes = (h > 0) + (h == 0) (the surrogate fires above the threshold, the LIF
 * definition adds the equality); V = V * (1 - spikes) + reset_value * spikes (the last term where reset_value is
 * not 0). */
void lif_forward(int64_t n, float rate, float threshold, float reset_value, float *potential, const float *drive,
                 float *h, float *spikes) {
#pragma omp parallel for simd schedule(static) if (n > PARALLEL_ABOVE)
    for (int64_t i = 0; i < n; i++) {
        float value = potential[i];
        float leak = drive[i] - value;
        leak = leak * rate;
        value = value + leak;
        float above = value - threshold;
        float spike = (above > 0.0f ? 1.0f : 0.0f) + (above == 0.0f ? 1.0f : 0.0f);
        float kept = value * (1.0f - spike);
        if (reset_value != 0.0f) {
            kept = kept + reset_value * spike;
        }
        potential[i] = kept;
        if (h) {
            h[i] = above;
        }
        spikes[i] = spike;
    }
}

/* Backward of one LIF step: the potential's gradient before the reset is the surrogate's plus the next step's
 * (or the final potential's) through the reset mask 1 - spikes (spikes = h >= 0); the leak's is that times rate,
 * which is also the drive's; the previous potential's is the potential's minus the leak's, written over
 * ``grad_next`` where they are the same buffer. ``sum`` as in leaky_backward, for the drive. */
void lif_backward(int64_t n, int kind, float first, float second, float rate, const float *grad_spikes,
                  const float *h, const float *grad_next, float *grad_previous, float *grad_drive, float *sum) {
#pragma omp parallel for simd schedule(static) if (n > PARALLEL_ABOVE)
    for (int64_t i = 0; i < n; i++) {
        float gradient = grad_spikes ? surrogate_gradient(kind, grad_spikes[i], h[i], first, second) : 0.0f;
        if (grad_next) {
            float spike = (h[i] > 0.0f ? 1.0f : 0.0f) + (h[i] == 0.0f ? 1.0f : 0.0f);
            float carried = grad_next[i] * (1.0f - spike);
            gradient = grad_spikes ? gradient + carried : carried;
        }
        float leak = gradient * rate;
        grad_previous[i] = gradient + -leak;
        if (sum) {
            sum[i] = sum[i] + leak;
        } else {
            grad_drive[i] = leak;
        }
    }
}

/* Element ``i`` of float32 ``values``, or of bfloat16 bits widened exactly to float32 for ``bf16``. */
static inline float widen(const void *values, int64_t i, int bf16) {
    if (!bf16) {
        return ((const float *)values)[i];
    }
    union { uint32_t bits; float value; } wide = {(uint32_t)((const uint16_t *)values)[i] << 16};
    return wide.value;
}

/* PyTorch's float32 to bfloat16 rounding: to nearest, ties to even; every NaN becomes 0x7FC0. */
static inline uint16_t narrow(float value) {
    if (isnan(value)) {
        return 0x7FC0;
    }
    union { float value; uint32_t bits; } wide = {value};
    return (uint16_t)((wide.bits + 0x7FFFu + ((wide.bits >> 16) & 1u)) >> 16);
}

/* The four window positions of output ``cell`` (flat over images, rows and columns): each a row of ``channels``. */
static inline void window_offsets(int64_t cell, int64_t height, int64_t width, int64_t channels, int64_t window[4]) {
    const int64_t pooled_height = height / 2, pooled_width = width / 2;
    const int64_t image = cell / (pooled_height * pooled_width);
    const int64_t row = cell / pooled_width % pooled_height, column = cell % pooled_width;
    window[0] = ((image * height + 2 * row) * width + 2 * column) * channels;
    window[1] = window[0] + channels;
    window[2] = window[0] + width * channels;
    window[3] = window[2] + channels;
}

/* One output cell's channels; inlined with a constant ``bf16``, so that each element type gets its own
 * vectorised loop. A NaN is the only value unequal to itself. */
static inline __attribute__((always_inline)) void pool_cell(const void *input, const int64_t window[4],
                                                            int64_t channels, int bf16, float *output,
                                                            uint8_t *position) {
    for (int64_t channel = 0; channel < channels; channel++) {
        float best = widen(input, window[0] + channel, bf16);
        uint8_t at = 0;
        for (int k = 1; k < 4; k++) {
            float value = widen(input, window[k] + channel, bf16);
            int take = (value > best) | (value != value);
            best = take ? value : best;
            at = take ? (uint8_t)k : at;
        }
        output[channel] = best;
        position[channel] = at;
    }
}

/* 2x2 max pooling with stride 2 of a channels-last [images, height, width, channels] convolution output (even
 * height and width) into float32 [images, height / 2, width / 2, channels], and each maximum's position in its
 * window (0 to 3, row by row) for the backward pass: one byte per output where PyTorch keeps an int64 index and
 * the whole input. The maximum is PyTorch's CPU kernel's: the first largest value, except that a NaN wins
 * over anything (the last NaN). A bfloat16 input is widened before the comparison: the maximum of the widened
 * values is the widened maximum, so pooling before or after the conversion gives the same number. */
void max_pool_forward(int64_t images, int64_t height, int64_t width, int64_t channels, int bf16,
                      const void *input, float *output, uint8_t *position) {
    const int64_t cells = images * (height / 2) * (width / 2);
#pragma omp parallel for schedule(static) if (cells * channels > PARALLEL_ABOVE)
    for (int64_t cell = 0; cell < cells; cell++) {
        int64_t window[4];
        window_offsets(cell, height, width, channels, window);
        if (bf16) {
            pool_cell(input, window, channels, 1, output + cell * channels, position + cell * channels);
        } else {
            pool_cell(input, window, channels, 0, output + cell * channels, position + cell * channels);
        }
    }
}

/* The input's gradient: each output's gradient at its maximum's position, zero elsewhere. Written as PyTorch
 * adds it to a zeroed gradient (0 + g, so a -0 gradient becomes +0), rounded to bfloat16 for ``bf16`` inputs
 * as the float32 conversion's backward pass rounds it. */
static inline __attribute__((always_inline)) void unpool_cell(const float *grad_output, const uint8_t *position,
                                                              const int64_t window[4], int64_t channels,
                                                              int bf16, void *grad_input) {
    for (int k = 0; k < 4; k++) {
        for (int64_t channel = 0; channel < channels; channel++) {
            float gradient = position[channel] == k ? 0.0f + grad_output[channel] : 0.0f;
            if (bf16) {
                ((uint16_t *)grad_input)[window[k] + channel] = narrow(gradient);
            } else {
                ((float *)grad_input)[window[k] + channel] = gradient;
            }
        }
    }
}

void max_pool_backward(int64_t images, int64_t height, int64_t width, int64_t channels, int bf16,
                       const float *grad_output, const uint8_t *position, void *grad_input) {
    const int64_t cells = images * (height / 2) * (width / 2);
#pragma omp parallel for schedule(static) if (cells * channels > PARALLEL_ABOVE)
    for (int64_t cell = 0; cell < cells; cell++) {
        int64_t window[4];
        window_offsets(cell, height, width, channels, window);
        const float *cell_grad = grad_output + cell * channels;
        const uint8_t *cell_position = position + cell * channels;
        if (bf16) {
            unpool_cell(cell_grad, cell_position, window, channels, 1, grad_input);
        } else {
            unpool_cell(cell_grad, cell_position, window, channels, 0, grad_input);
        }
    }
}
