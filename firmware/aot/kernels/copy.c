/* copy.c - see copy.h. */
#include "copy.h"

#include <string.h>

void td_copy_bytes(void *dst, const void *src, uint32_t nbytes) {
  if (dst != src) memcpy(dst, src, nbytes);
}
