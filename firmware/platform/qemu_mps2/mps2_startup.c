/* mps2_startup.c - vector table, reset handler and fault reporting for the QEMU MPS2/MPS3 machines.
 *
 * QEMU reads the initial SP and PC at the machine's boot address (0x0 on AN385/AN386/AN500, 0x10000000 on
 * AN505/AN547, the core booting Secure).  The linker script puts the vector table there when FLASH starts
 * at that address, and otherwise only the two-word boot vector below (the AN547's FLASH is its 8 MiB
 * QSPI, its boot address the 512 KiB ITCM); the reset handler then points VTOR at the full table.
 */
#include <stdint.h>

#include "mps2_machine.h"
#include "mps2_private.h"
#include "mps2_regs.h"

int main(void);

typedef void (*mps2_vector)(void);

void td_reset_handler(void) __attribute__((noreturn));
void mps2_fault_entry(void) __attribute__((naked));
void mps2_fault_report(uint32_t pc, uint32_t lr, uint32_t ipsr) __attribute__((noreturn, used));

/* Every exception but reset, SysTick and the external lines is unexpected here: a fault (the
 * configurable ones escalate to HardFault since they are left disabled), NMI, SVC, PendSV, DebugMon. */
__attribute__((section(".vectors"), used)) const mps2_vector mps2_vectors[16 + MPS2_NUM_IRQS] = {
    [0] = (mps2_vector)__stack_top,
    [1] = td_reset_handler,
    [2 ... 14] = mps2_fault_entry,
    [15] = mps2_systick_isr,
    [16 ... 16 + MPS2_NUM_IRQS - 1] = mps2_irq_dispatch,
};

__attribute__((section(".boot_vectors"), used)) const mps2_vector mps2_boot_vectors[2] = {
    (mps2_vector)__stack_top,
    td_reset_handler,
};

/* Kept out of line and fenced so no floating-point or MVE instruction can be scheduled before the
 * coprocessors are enabled (the copy loops below may be vectorised on the M55). */
__attribute__((noinline)) static void enable_fpu(void) {
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
  SCB_CPACR |= 0xFu << 20; /* CP10 and CP11: full access */
  __asm volatile("dsb\n isb" ::: "memory");
#endif
}

__attribute__((noinline)) static void init_memory(void) {
  const uint32_t *src = __data_load;
  for (uint32_t *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (uint32_t *dst = __bss_start; dst < __bss_end;) *dst++ = 0;
}

/* C++ static constructors (the TFLM runtime has some). */
extern mps2_vector __preinit_array_start[], __preinit_array_end[];
extern mps2_vector __init_array_start[], __init_array_end[];

static void run_constructors(void) {
  for (mps2_vector *f = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (mps2_vector *f = __init_array_start; f < __init_array_end; ++f) (*f)();
}

void td_reset_handler(void) {
  __asm volatile("cpsid i" ::: "memory");
  SCB_VTOR = (uint32_t)(uintptr_t)mps2_vectors;
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
  /* Armv8-M: a stack overflow faults (STKOF) instead of silently corrupting .bss. */
  __asm volatile("msr msplim, %0" ::"r"(__stack_bottom));
#endif
  enable_fpu();
  init_memory();
  mps2_counter_start();
  mps2_uart_start();
  __asm volatile("cpsie i" ::: "memory");
  run_constructors();
  int status = main();
  mps2_semihost_exit(status);
}

/* Find the stacked frame (MSP or PSP by EXC_RETURN bit 2), take its PC and LR, then move to a fresh
 * stack so that a stack overflow can still be reported. */
void mps2_fault_entry(void) {
  __asm volatile(
      "tst lr, #4\n"
      "ite eq\n"
      "mrseq r3, msp\n"
      "mrsne r3, psp\n"
      "ldr r0, [r3, #24]\n"
      "ldr r1, [r3, #20]\n"
      "mrs r2, ipsr\n"
      "ldr r3, =__stack_top\n"
      "msr msp, r3\n"
      "b mps2_fault_report\n"
      ".ltorg\n");
}

static char *put_hex(char *out, const char *label, uint32_t value) {
  static const char digits[] = "0123456789abcdef";
  while (*label) *out++ = *label++;
  *out++ = '0';
  *out++ = 'x';
  for (int shift = 28; shift >= 0; shift -= 4) *out++ = digits[(value >> shift) & 0xFu];
  return out;
}

/* The marker tinydeploy.flash.qemu looks for; printed on the UART and the semihosting console, so it
 * is seen whether or not a serial client is attached. */
void mps2_fault_report(uint32_t pc, uint32_t lr, uint32_t ipsr) {
  char line[128];
  char *p = line;
  const char *head = "\r\n*** HARDFAULT";
  while (*head) *p++ = *head++;
  p = put_hex(p, " pc=", pc);
  p = put_hex(p, " lr=", lr);
  p = put_hex(p, " cfsr=", SCB_CFSR);
  p = put_hex(p, " hfsr=", SCB_HFSR);
  p = put_hex(p, " exc=", ipsr & 0x1FFu);
  *p++ = '\r';
  *p++ = '\n';
  *p = '\0';
  mps2_uart_put_string(line);
  mps2_semihost_write0(line + 2);
  mps2_semihost_exit(MPS2_EXIT_FAULT);
}
