/* td_platform.h - what the device harness needs from a board.
 *
 * One implementation per platform family under firmware/platform/<family>/ (qemu_mps2, native, arduino,
 * ...).  The harness (firmware/harness/) and the runtimes never touch hardware directly.
 */
#ifndef TD_PLATFORM_H
#define TD_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Clocks, UART, timer.  Called once before anything else. */
void td_platform_init(void);

/* Blocking write of n bytes to the serial link. */
void td_link_write(const uint8_t *data, size_t n);

/* Read one byte from the serial link; returns the byte (0..255), or -1 if none arrived within
 * timeout_ms milliseconds of platform time (timeout_ms < 0 waits forever, sleeping with WFI). */
int td_link_read(int32_t timeout_ms);

/* Free-running latency counter and its unit.  td_counter_now() wraps at 2^32; differences are taken
 * modulo 2^32.  Unit is one of "cycles" (DWT on real M3/M4/M7/M33/M55), "instructions" (SysTick under
 * QEMU -icount shift=0: it counts executed instructions, not cycles), "ticks" (SysTick on M0+, scaled to
 * cycles by td_counter_scale()), or "ns" on the native board. */
uint32_t td_counter_now(void);
const char *td_counter_unit(void);
uint32_t td_counter_scale(void); /* counter units per tick; 1 for cycles/instructions */

/* Core clock in Hz as the board file states it (0 if meaningless, e.g. native). */
uint32_t td_platform_clock_hz(void);

/* Board id baked in at build time ("qemu-m4", "native", ...). */
const char *td_platform_board(void);

/* Stack painting for the high-water mark: paint() fills the unused stack with a pattern, used() returns
 * the deepest byte count touched since the last paint (0 if unsupported). */
void td_stack_paint(void);
uint32_t td_stack_used(void);

/* Leave the program with a status (semihosting exit under QEMU, exit() on native, reset on hardware). */
void td_platform_exit(int status) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif /* TD_PLATFORM_H */
