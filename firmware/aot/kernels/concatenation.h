/* concatenation.h - CONCATENATION (any element type), exact as TFLite Micro's reference kernel: a plain
 * copy (TFLM requires int8 inputs quantized like the output and never requantizes). */
#ifndef TD_CONCATENATION_H
#define TD_CONCATENATION_H

#include <stdint.h>

/* Copy one input into its slot of the output: `outer` rows of `chunk_bytes`, the output rows being
 * `out_row_bytes` apart; dst points at the input's first byte in the output.  dst must not overlap src. */
void td_concat_part(const void *src, void *dst, int32_t outer, int32_t chunk_bytes, int32_t out_row_bytes);

#endif /* TD_CONCATENATION_H */
