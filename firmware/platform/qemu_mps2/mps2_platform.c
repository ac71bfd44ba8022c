/* mps2_platform.c - td_platform.h for the QEMU MPS2/MPS3 machines.
 *
 * Serial link: CMSDK APB UART0, polled transmit, receive woken by its RX interrupt.
 * Counter: SysTick on the core clock, free-running with a wrap interrupt extending it to 64 bits.  Under
 * QEMU -icount shift=0 every executed instruction advances virtual time by exactly 1 ns, so one SysTick
 * tick at TD_SYSCLK_HZ is 1e9 / TD_SYSCLK_HZ instructions (40 at 25 MHz): the counter reports
 * instructions, exactly and repeatably, not cycles.
 */
#include "td_platform.h"

#include "mps2_machine.h"
#include "mps2_private.h"
#include "mps2_regs.h"

/* SysTick wraps every 10 ms of virtual time: short enough that td_link_read's timeout, checked on each
 * wake-up, overshoots by at most that; long enough that the wrap interrupt costs nothing measurable. */
#define TICKS_PER_WRAP (TD_SYSCLK_HZ / 100u)
#define TICKS_PER_MS (TD_SYSCLK_HZ / 1000u)
#define INSTRUCTIONS_PER_WRAP 10000000u /* 10 ms at 1 instruction per ns */
#define STACK_PAINT 0xA5A5A5A5u
#define STACK_PAINT_MARGIN 64u /* bytes below the live SP left unpainted */

static volatile uint32_t systick_wraps;
static uint32_t instructions_num; /* instructions per tick = num / den (1e9 / TD_SYSCLK_HZ reduced) */
static uint32_t instructions_den;

static uint32_t gcd(uint32_t a, uint32_t b) {
  while (b != 0) {
    uint32_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

void mps2_counter_start(void) {
  uint32_t g = gcd(1000000000u, TD_SYSCLK_HZ);
  instructions_num = 1000000000u / g;
  instructions_den = TD_SYSCLK_HZ / g;
  systick_wraps = 0;
  SYST_RVR = TICKS_PER_WRAP - 1u;
  SYST_CVR = 0;
  SCB_SHPR3 &= 0x00FFFFFFu; /* SysTick at the highest configurable priority: wraps are never late */
  SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE_CPU;
}

void mps2_systick_isr(void) { systick_wraps++; }

static uint32_t irq_save(void) {
  uint32_t primask;
  __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
  return primask;
}

static void irq_restore(uint32_t primask) { __asm volatile("msr primask, %0" ::"r"(primask) : "memory"); }

/* (wraps, ticks into the current wrap period), consistent even if a wrap is pending but not yet taken. */
static void counter_read(uint32_t *wraps, uint32_t *phase) {
  uint32_t primask = irq_save();
  uint32_t w = systick_wraps;
  uint32_t cvr = SYST_CVR;
  if (SCB_ICSR & SCB_ICSR_PENDSTSET) {
    cvr = SYST_CVR; /* the wrap may have happened after the first read: re-read past it */
    w++;
  }
  irq_restore(primask);
  *wraps = w;
  *phase = TICKS_PER_WRAP - 1u - cvr;
}

static uint64_t ticks_now(void) {
  uint32_t wraps, phase;
  counter_read(&wraps, &phase);
  return (uint64_t)wraps * TICKS_PER_WRAP + phase;
}

uint32_t td_counter_now(void) {
  uint32_t wraps, phase;
  counter_read(&wraps, &phase);
  return wraps * INSTRUCTIONS_PER_WRAP + phase * instructions_num / instructions_den;
}

const char *td_counter_unit(void) { return "instructions"; }
uint32_t td_counter_scale(void) { return 1u; }
uint32_t td_platform_clock_hz(void) { return TD_CLOCK_HZ; }
const char *td_platform_board(void) { return TD_BOARD_ID; }

/* ---- UART ---- */

void mps2_uart_start(void) {
  UART_CTRL(TD_UART_BASE) = 0;
  UART_BAUDDIV(TD_UART_BASE) = TD_SYSCLK_HZ / 115200u; /* QEMU needs >= 16 to transmit at all */
  UART_STATE(TD_UART_BASE) = UART_STATE_OVERRUNS;
  UART_INTSTATUS(TD_UART_BASE) = 0xFu;
  UART_CTRL(TD_UART_BASE) = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_RXINTEN;
  NVIC_ICPR(MPS2_UART0_RX_IRQ / 32) = 1u << (MPS2_UART0_RX_IRQ % 32);
  NVIC_ISER(MPS2_UART0_RX_IRQ / 32) = 1u << (MPS2_UART0_RX_IRQ % 32);
}

/* The RX interrupt only wakes the core from WFI; the byte stays in the data register for td_link_read.
 * Any other line that fires was never enabled by us: disable it rather than loop on it. */
void mps2_irq_dispatch(void) {
  uint32_t ipsr;
  __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
  uint32_t irq = (ipsr & 0x1FFu) - 16u;
  if (irq == MPS2_UART0_RX_IRQ) {
    UART_INTSTATUS(TD_UART_BASE) = UART_INT_RX;
  } else {
    NVIC_ICER(irq / 32) = 1u << (irq % 32);
  }
}

static void uart_put(uint8_t byte) {
  while (UART_STATE(TD_UART_BASE) & UART_STATE_TXFULL) {
  }
  UART_DATA(TD_UART_BASE) = byte;
}

void mps2_uart_put_string(const char *s) {
  while (*s) uart_put((uint8_t)*s++);
}

void td_platform_init(void) {
  /* The reset handler already started SysTick and the UART before main(); nothing is left to do, and
   * calling this twice is harmless. */
}

void td_link_write(const uint8_t *data, size_t n) {
  for (size_t i = 0; i < n; ++i) uart_put(data[i]);
}

static int rx_ready(void) { return (UART_STATE(TD_UART_BASE) & UART_STATE_RXFULL) != 0; }

int td_link_read(int32_t timeout_ms) {
  uint64_t deadline = ticks_now() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * TICKS_PER_MS;
  for (;;) {
    if (rx_ready()) return (int)(UART_DATA(TD_UART_BASE) & 0xFFu);
    if (timeout_ms >= 0 && ticks_now() >= deadline) return -1;
    /* Sleep with interrupts masked so a byte arriving between the check and WFI still wakes us (a
     * pending interrupt ends WFI even when PRIMASK is set); unmasking then runs its handler. */
    __asm volatile("cpsid i" ::: "memory");
    if (!rx_ready()) __asm volatile("wfi" ::: "memory");
    __asm volatile("cpsie i" ::: "memory");
  }
}

/* ---- stack high-water mark ---- */

static uintptr_t stack_pointer(void) {
  uintptr_t sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

void td_stack_paint(void) {
  uint32_t *limit = (uint32_t *)((stack_pointer() - STACK_PAINT_MARGIN) & ~(uintptr_t)3u);
  for (volatile uint32_t *p = __stack_bottom; p < limit; ++p) *p = STACK_PAINT;
}

uint32_t td_stack_used(void) {
  const uint32_t *p = __stack_bottom;
  while (p < __stack_top && *p == STACK_PAINT) ++p;
  return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

/* ---- leaving ---- */

/* Semihosting operations (Arm "Semihosting for AArch32 and AArch64"). */
#define SEMIHOST_SYS_WRITE0 0x04
#define SEMIHOST_SYS_EXIT_EXTENDED 0x20
#define SEMIHOST_ADP_STOPPED_APPLICATION_EXIT 0x20026

static int semihost_call(int op, const void *arg) {
  register int r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void mps2_semihost_write0(const char *s) { (void)semihost_call(SEMIHOST_SYS_WRITE0, s); }

void mps2_semihost_exit(int status) {
  /* SYS_EXIT_EXTENDED carries the status itself (plain SYS_EXIT on AArch32 can only say 0 or 1). */
  const uint32_t block[2] = {SEMIHOST_ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
  for (;;) (void)semihost_call(SEMIHOST_SYS_EXIT_EXTENDED, block);
}

void td_platform_exit(int status) {
  /* Drain nothing: the UART model hands each byte to QEMU on the write.  Tell the runner this was a
   * deliberate exit (a reset request also ends QEMU -no-reboot with status 0). */
  static const char digits[] = "0123456789";
  char line[32] = "*** TD_EXIT status=";
  char *p = line + 19;
  uint32_t v = (uint32_t)(status < 0 ? -status : status);
  char rev[10];
  int n = 0;
  do {
    rev[n++] = digits[v % 10u];
    v /= 10u;
  } while (v != 0);
  if (status < 0) *p++ = '-';
  while (n > 0) *p++ = rev[--n];
  *p++ = '\n';
  *p = '\0';
  mps2_semihost_write0(line);
  mps2_semihost_exit(status);
}
