/* cast.h - CAST between float32, int8, int16, int32 and bool, as TFLite Micro's copy-cast (static_cast). */
#ifndef TD_CAST_H
#define TD_CAST_H

#include <stdint.h>

/* Element types: TFLite TensorType codes (0 float32, 2 int32, 6 bool, 7 int16, 9 int8).  Each value goes
 * through double (exact for every source type); to an integer type it is truncated toward zero into int32
 * and then narrowed (two's-complement wrap, what the host's static_cast does for in-range floats and for
 * every integer); to bool it is `!= 0`.  out must not overlap in unless both types have the same size. */
void td_cast(const void *in, int32_t in_type, void *out, int32_t out_type, int32_t n);

#endif /* TD_CAST_H */
