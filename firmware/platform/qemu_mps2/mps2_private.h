/* mps2_private.h - what the files of the qemu_mps2 platform share with each other (not with the harness). */
#ifndef MPS2_PRIVATE_H
#define MPS2_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

/* Linker-script symbols (templates/firmware/qemu_mps2.ld.j2). */
extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __heap_start[], __stack_bottom[], __stack_top[];

/* Hardware bring-up the reset handler does before main(): the UART, and SysTick running from boot
 * (QEMU's CMSDK UART model delivers the first received bytes late unless a timer is running). */
void mps2_uart_start(void);
void mps2_counter_start(void);

/* Exception entry points the vector table names. */
void mps2_systick_isr(void);
void mps2_irq_dispatch(void);

/* Polled output for contexts where nothing else can be trusted (fault handler). */
void mps2_uart_put_string(const char *s);

/* Arm semihosting (QEMU -semihosting-config enable=on). */
void mps2_semihost_write0(const char *s);
void mps2_semihost_exit(int status) __attribute__((noreturn));

#endif /* MPS2_PRIVATE_H */
