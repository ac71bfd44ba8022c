/* mps2_regs.h - the few Cortex-M system registers and the CMSDK APB UART the qemu_mps2 platform touches.
 *
 * Written from the Armv7-M / Armv8-M Architecture Reference Manuals and the CMSDK UART description; no
 * vendor headers are used.  Everything here is private to firmware/platform/qemu_mps2/.
 */
#ifndef MPS2_REGS_H
#define MPS2_REGS_H

#include <stdint.h>

#define MPS2_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* System control block. */
#define SCB_ICSR MPS2_REG(0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SCB_VTOR MPS2_REG(0xE000ED08u)
#define SCB_SHPR3 MPS2_REG(0xE000ED20u)
#define SCB_CFSR MPS2_REG(0xE000ED28u)
#define SCB_HFSR MPS2_REG(0xE000ED2Cu)
#define SCB_MMFAR MPS2_REG(0xE000ED34u)
#define SCB_BFAR MPS2_REG(0xE000ED38u)
#define SCB_CPACR MPS2_REG(0xE000ED88u)
#define SCB_MVFR0 MPS2_REG(0xE000EF40u)

/* SysTick (the Secure instance when an Armv8-M core runs Secure, which it does from reset). */
#define SYST_CSR MPS2_REG(0xE000E010u)
#define SYST_RVR MPS2_REG(0xE000E014u)
#define SYST_CVR MPS2_REG(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)

/* NVIC: set-enable / clear-enable / clear-pending banks of 32 interrupts. */
#define NVIC_ISER(n) MPS2_REG(0xE000E100u + 4u * (n))
#define NVIC_ICER(n) MPS2_REG(0xE000E180u + 4u * (n))
#define NVIC_ICPR(n) MPS2_REG(0xE000E280u + 4u * (n))

/* CMSDK APB UART. */
#define UART_DATA(base) MPS2_REG((base) + 0x00u)
#define UART_STATE(base) MPS2_REG((base) + 0x04u)
#define UART_CTRL(base) MPS2_REG((base) + 0x08u)
#define UART_INTSTATUS(base) MPS2_REG((base) + 0x0Cu) /* write 1 to clear */
#define UART_BAUDDIV(base) MPS2_REG((base) + 0x10u)
#define UART_STATE_TXFULL (1u << 0)
#define UART_STATE_RXFULL (1u << 1)
#define UART_STATE_OVERRUNS (3u << 2)
#define UART_CTRL_TXEN (1u << 0)
#define UART_CTRL_RXEN (1u << 1)
#define UART_CTRL_RXINTEN (1u << 3)
#define UART_INT_RX (1u << 1)

#endif /* MPS2_REGS_H */
