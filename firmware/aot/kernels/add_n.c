/* add_n.c - ADD_N kernels; see add_n.h. */
#include "add_n.h"

#include "td_fixedpoint.h"

void td_add_n_f32(const float *const *ins, int32_t n, int32_t size, float *out) {
  for (int32_t i = 0; i < size; ++i) {
    float x = 0.0f;
    for (int32_t j = 0; j < n; ++j) x += ins[j][i];
    out[i] = x;
  }
}

static int32_t td_add_n_scale_input(int32_t v, const td_add_n_s8_params *p) {
  return td_mul_by_quantized_multiplier_smaller_than_one(v * (1 << p->left_shift), p->input_multiplier,
                                                         p->input_shift);
}

void td_add_n_s8(const int8_t *const *ins, int32_t n, int32_t size, int8_t *out, const td_add_n_s8_params *p) {
  const int32_t start = td_add_n_scale_input(p->input_offset, p);
  for (int32_t i = 0; i < size; ++i) {
    int32_t acc = start;
    for (int32_t j = 0; j < n; ++j) acc += td_add_n_scale_input(p->input_offset + ins[j][i], p);
    const int32_t r = td_mul_by_quantized_multiplier_smaller_than_one(acc, p->output_multiplier, p->output_shift) +
                      p->output_offset;
    out[i] = (int8_t)td_clamp_i32(r, -128, 127);
  }
}
