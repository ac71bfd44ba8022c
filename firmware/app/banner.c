/* banner.c - proves a platform before the real harness exists.
 *
 * Prints one banner line with the board id, the counter unit and readings, a calibration line (a loop of
 * a known number of instructions timed with the counter), then echoes every byte it receives until EOT
 * (0x04); the byte after EOT is the exit status it leaves with.  Built with -DTD_BANNER_FAULT it
 * branches to an address without the Thumb bit instead, which must end in the platform's fault marker.
 *
 * Lines (all '\n'-terminated, parsed by tests/test_platform_*.py and bench/):
 *   td-banner board=<id> unit=<unit> scale=<n> clock_hz=<hz> counter=<now>
 *   td-calib loop_instructions=<n> counted=<delta> monotonic_errors=<n>
 *   td-echo ready
 *   ... echoed bytes ...
 *   td-bye stack_used=<bytes>
 * If no byte arrives for TD_BANNER_IDLE_TIMEOUT_MS it prints "td-echo timeout" and exits with status 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "td_platform.h"

#define EOT 0x04
#ifndef TD_BANNER_IDLE_TIMEOUT_MS /* how long to wait for the next byte before giving up (exit 1) */
#define TD_BANNER_IDLE_TIMEOUT_MS 20000
#endif
#define CALIB_ITERATIONS 100000u

static void link_print(const char *text) { td_link_write((const uint8_t *)text, strlen(text)); }

/* A loop whose instruction count is known exactly: per iteration one SUBS and one taken BNE (Thumb-2 on
 * Cortex-M; on the host it is just a loop, and the count means nothing). */
static uint32_t timed_loop(uint32_t iterations, uint32_t *executed) {
  uint32_t n = iterations;
  uint32_t start = td_counter_now();
#if defined(__arm__)
  __asm volatile(
      "1: subs %0, %0, #1\n"
      "   bne 1b\n"
      : "+r"(n)
      :
      : "cc");
  *executed = 2u * iterations;
#else
  for (volatile uint32_t i = 0; i < n; ++i) {
  }
  *executed = 0;
#endif
  return td_counter_now() - start;
}

static uint32_t count_backward_steps(uint32_t reads) {
  uint32_t errors = 0;
  uint32_t previous = td_counter_now();
  for (uint32_t i = 0; i < reads; ++i) {
    uint32_t now = td_counter_now();
    if ((int32_t)(now - previous) < 0) errors++;
    previous = now;
  }
  return errors;
}

#ifdef TD_BANNER_FAULT
static void fault_now(void) {
  /* An even target address asks for the Arm instruction set, which M-profile cores do not have:
   * UsageFault INVSTATE, escalated to HardFault. */
  void (*volatile bad)(void) = (void (*)(void))(uintptr_t)0x00000100u;
  bad();
}
#endif

int main(void) {
  char line[160];
  td_platform_init();
  td_stack_paint();

  snprintf(line, sizeof line, "td-banner board=%s unit=%s scale=%lu clock_hz=%lu counter=%lu\n",
           td_platform_board(), td_counter_unit(), (unsigned long)td_counter_scale(),
           (unsigned long)td_platform_clock_hz(), (unsigned long)td_counter_now());
  link_print(line);

  uint32_t executed = 0;
  uint32_t counted = timed_loop(CALIB_ITERATIONS, &executed);
  uint32_t backward = count_backward_steps(20000u);
  snprintf(line, sizeof line, "td-calib loop_instructions=%lu counted=%lu monotonic_errors=%lu\n",
           (unsigned long)executed, (unsigned long)counted, (unsigned long)backward);
  link_print(line);

#ifdef TD_BANNER_FAULT
  link_print("td-fault now\n");
  fault_now();
#endif

  link_print("td-echo ready\n");
  int status = 1;
  for (;;) {
    int byte = td_link_read(TD_BANNER_IDLE_TIMEOUT_MS);
    if (byte < 0) {
      link_print("td-echo timeout\n");
      break;
    }
    if (byte == EOT) {
      int code = td_link_read(TD_BANNER_IDLE_TIMEOUT_MS);
      status = code < 0 ? 1 : code;
      break;
    }
    uint8_t out = (uint8_t)byte;
    td_link_write(&out, 1);
  }

  snprintf(line, sizeof line, "td-bye stack_used=%lu\n", (unsigned long)td_stack_used());
  link_print(line);
  td_platform_exit(status);
}
