/* copy.h - a byte copy: SHAPE (the static shape, a constant, into its output), READ_VARIABLE and
 * ASSIGN_VARIABLE (a resource variable's persistent storage to / from a tensor). */
#ifndef TD_COPY_H
#define TD_COPY_H

#include <stdint.h>

/* dst and src must not overlap unless equal. */
void td_copy_bytes(void *dst, const void *src, uint32_t nbytes);

#endif /* TD_COPY_H */
