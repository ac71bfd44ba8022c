/* fill.h - FILL, ZEROS_LIKE (any element type): every output element set to one value, as TFLite
 * Micro's reference kernels do it. */
#ifndef TD_FILL_H
#define TD_FILL_H

#include <stdint.h>

/* dst[0..count) = *value (elem_size bytes: 1, 2, 4 or 8).  value may live in the arena (FILL's value
 * operand computed at run time) or in flash. */
void td_fill(void *dst, int32_t elem_size, int32_t count, const void *value);

#endif /* TD_FILL_H */
