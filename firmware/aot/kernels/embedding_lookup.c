/* embedding_lookup.c - dequantizing row lookup; see embedding_lookup.h. */
#include "embedding_lookup.h"

void td_embedding_lookup_hybrid(const int32_t *ids, int32_t n_ids, const int8_t *table, int32_t rows,
                                int32_t cols, float scale, float *out) {
  for (int32_t i = 0; i < n_ids; ++i, out += cols) {
    const int32_t id = ids[i];
    if (id < 0 || id >= rows) {
      for (int32_t c = 0; c < cols; ++c) out[c] = 0.0f;
      continue;
    }
    const int8_t *row = table + id * cols;
    for (int32_t c = 0; c < cols; ++c) out[c] = (float)row[c] * scale;
  }
}
