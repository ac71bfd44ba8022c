/* logical.h - LOGICAL_AND, LOGICAL_OR (N-D broadcasting) and LOGICAL_NOT on bool tensors (one byte, 0 or
 * 1), as TFLite Micro's logical.cc / elementwise.cc (bool only). */
#ifndef TD_LOGICAL_H
#define TD_LOGICAL_H

#include <stdint.h>

#include "add.h" /* td_bcast6 */

void td_logical_and_b(const uint8_t *a, const uint8_t *b, uint8_t *out, const td_bcast6 *bc);
void td_logical_or_b(const uint8_t *a, const uint8_t *b, uint8_t *out, const td_bcast6 *bc);
/* out may equal in. */
void td_logical_not_b(const uint8_t *in, uint8_t *out, int32_t n);

#endif /* TD_LOGICAL_H */
