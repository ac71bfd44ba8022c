/* td_cobs.c - COBS framing: zero-free encoding so that 0x00 can delimit frames. */
#include "td_harness.h"
#include "td_platform.h"

long td_cobs_decode(uint8_t *buf, size_t n) {
  size_t in = 0, out = 0;
  while (in < n) {
    uint8_t code = buf[in++];
    if (code == 0) return -1; /* a zero cannot appear inside a frame */
    size_t run = (size_t)code - 1u;
    if (run > n - in) return -1; /* block runs past the end */
    for (size_t i = 0; i < run; i++) {
      uint8_t b = buf[in++];
      if (b == 0) return -1;
      buf[out++] = b;
    }
    /* A block shorter than 254 data bytes stands for "data, then a zero" unless it ends the frame. */
    if (code != 0xFF && in < n) buf[out++] = 0;
  }
  return (long)out;
}

void td_cobs_write(const uint8_t *src, size_t n) {
  size_t start = 0;
  for (;;) {
    /* A block is up to 254 non-zero bytes, ended by a zero (which the code byte stands for) or the end. */
    size_t run = 0;
    while (start + run < n && run < 254u && src[start + run] != 0) run++;
    uint8_t code = (uint8_t)(run + 1u);
    td_link_write(&code, 1);
    if (run) td_link_write(src + start, run);
    start += run;
    if (run == 254u) {
      if (start == n) return; /* the last block was full: no implied zero, nothing follows */
      continue;               /* a full block implies no zero: the next byte starts a new block */
    }
    if (start >= n) return;
    start++; /* skip the zero this block stood for */
    if (start == n) {
      /* The data ended with a zero: an empty final block encodes it. */
      code = 1;
      td_link_write(&code, 1);
      return;
    }
  }
}
