/* embedding_lookup.h - EMBEDDING_LOOKUP's hybrid path (int8 table, float32 output), exact as TFLite Micro.
 * The plain path (same type in and out) is a row copy: gather.c's td_gather. */
#ifndef TD_EMBEDDING_LOOKUP_H
#define TD_EMBEDDING_LOOKUP_H

#include <stdint.h>

/* out row i = scale * table row ids[i] (the table is symmetric: zero point 0, as TFLM requires).  An id
 * outside [0, rows) fails TFLM's inference; here it yields a zero row, never a read outside the table. */
void td_embedding_lookup_hybrid(const int32_t *ids, int32_t n_ids, const int8_t *table, int32_t rows,
                                int32_t cols, float scale, float *out);

#endif /* TD_EMBEDDING_LOOKUP_H */
