/* strided_slice.c - N-D strided gather; see strided_slice.h. */
#include "strided_slice.h"

#include <string.h>

/* One typed instance per element size keeps the inner loop free of memcpy calls. */
#define TD_DEFINE_STRIDED_COPY(NAME, T)                                                                     \
  static void NAME(const T *src, T *dst, const td_strided6 *s) {                                            \
    const int32_t *d = s->dims, *st = s->strides;                                                           \
    for (int32_t i0 = 0; i0 < d[0]; ++i0)                                                                   \
      for (int32_t i1 = 0; i1 < d[1]; ++i1)                                                                 \
        for (int32_t i2 = 0; i2 < d[2]; ++i2)                                                               \
          for (int32_t i3 = 0; i3 < d[3]; ++i3)                                                             \
            for (int32_t i4 = 0; i4 < d[4]; ++i4) {                                                         \
              const T *p = src + s->offset + i0 * st[0] + i1 * st[1] + i2 * st[2] + i3 * st[3] + i4 * st[4]; \
              if (st[5] == 1) {                                                                             \
                memcpy(dst, p, (size_t)d[5] * sizeof(T));                                                   \
                dst += d[5];                                                                                \
              } else {                                                                                      \
                for (int32_t i5 = 0; i5 < d[5]; ++i5) *dst++ = p[i5 * st[5]];                               \
              }                                                                                             \
            }                                                                                               \
  }

TD_DEFINE_STRIDED_COPY(td_strided_copy_u8, uint8_t)
TD_DEFINE_STRIDED_COPY(td_strided_copy_u16, uint16_t)
TD_DEFINE_STRIDED_COPY(td_strided_copy_u32, uint32_t)
TD_DEFINE_STRIDED_COPY(td_strided_copy_u64, uint64_t)

void td_strided_copy(const void *src, void *dst, int32_t elem_size, const td_strided6 *s) {
  switch (elem_size) {
    case 1: td_strided_copy_u8((const uint8_t *)src, (uint8_t *)dst, s); break;
    case 2: td_strided_copy_u16((const uint16_t *)src, (uint16_t *)dst, s); break;
    case 4: td_strided_copy_u32((const uint32_t *)src, (uint32_t *)dst, s); break;
    case 8: td_strided_copy_u64((const uint64_t *)src, (uint64_t *)dst, s); break;
    default: break;
  }
}
