/* td_harness.h - the device side of the tinydeploy serial protocol (docs/protocol.md).
 *
 * The harness owns main(): it initialises the board (td_platform.h) and the runtime (td_runtime.h),
 * announces BOOT and then serves frames forever.  Frameworks that own main() themselves (Arduino) build
 * with -DTD_HARNESS_NO_MAIN and call td_harness_run() from setup().
 *
 * Buffer sizes are build-time knobs (bytes of RAM, each is one static array):
 *   TD_RX_BUF  encoded bytes of one received frame (default 512): bounds the input chunk size
 *   TD_TX_BUF  raw bytes of one reply frame (default 512): bounds HELLO and output chunk size; it also
 *              holds the cached reply that makes retried requests idempotent
 */
#ifndef TD_HARNESS_H
#define TD_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#ifndef TD_RX_BUF
#define TD_RX_BUF 512
#endif
#ifndef TD_TX_BUF
#define TD_TX_BUF 512
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* COBS (consistent overhead byte stuffing).  Decoding works in place (the output never outgrows the
 * input); it returns the decoded length, or -1 when the bytes are not valid COBS. */
long td_cobs_decode(uint8_t *buf, size_t n);
/* Encode src and write it with td_link_write(), block by block (no buffer), without the delimiter. */
void td_cobs_write(const uint8_t *src, size_t n);
/* Largest decoded frame that fits in `encoded` bytes of COBS (delimiter not included). */
#define TD_COBS_MAX_DECODED(encoded) ((encoded) - ((encoded) + 253u) / 254u)

/* CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF; zlib's crc32). */
uint32_t td_crc32(const uint8_t *data, size_t n);

/* Serve the protocol forever (never returns). */
void td_harness_run(void);

/* Handle one received, still COBS-encoded frame (without its delimiter); exposed for tests. */
void td_harness_handle(uint8_t *encoded, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* TD_HARNESS_H */
