/* mps2_machine.h - facts about each QEMU MPS2/MPS3 machine that the board file does not carry.
 *
 * The build passes, from boards/<id>.toml (see tinydeploy.flash.firmware.platform_defines):
 *   TD_BOARD_ID        "qemu-m4"
 *   TD_CLOCK_HZ        core clock the board file states
 *   TD_SYSCLK_HZ       the machine's SysTick/UART clock ([qemu] sysclk_hz)
 *   TD_UART_BASE       UART0 base address ([qemu] uart_base; the Secure alias on Armv8-M machines)
 *   TD_QEMU_MACHINE_<MACHINE>  e.g. TD_QEMU_MACHINE_MPS2_AN386, selecting the block below.
 * The UART0 receive interrupt numbers were measured under QEMU 7.2 (NVIC pending bits after a byte
 * arrived with RXINTEN set): the IoTKit/SSE-300 machines route expansion interrupts from NVIC line 32.
 */
#ifndef MPS2_MACHINE_H
#define MPS2_MACHINE_H

#if defined(TD_QEMU_MACHINE_MPS2_AN385) || defined(TD_QEMU_MACHINE_MPS2_AN386) || \
    defined(TD_QEMU_MACHINE_MPS2_AN500)
#define MPS2_UART0_RX_IRQ 0
#elif defined(TD_QEMU_MACHINE_MPS2_AN505)
#define MPS2_UART0_RX_IRQ 32
#elif defined(TD_QEMU_MACHINE_MPS3_AN547)
#define MPS2_UART0_RX_IRQ 33
#elif !defined(MPS2_UART0_RX_IRQ)
#error "unknown QEMU machine: define TD_QEMU_MACHINE_<MACHINE> (see tinydeploy.flash.firmware)"
#endif

#ifndef TD_UART_BASE
#error "TD_UART_BASE is not defined: build through tinydeploy.flash.firmware or copy its defines"
#endif
#ifndef TD_SYSCLK_HZ
#define TD_SYSCLK_HZ 25000000u
#endif
#ifndef TD_CLOCK_HZ
#define TD_CLOCK_HZ TD_SYSCLK_HZ
#endif
#ifndef TD_BOARD_ID
#define TD_BOARD_ID "qemu"
#endif

/* Exit status the fault handler leaves QEMU with (mirrored in tinydeploy.flash.qemu). */
#define MPS2_EXIT_FAULT 70

/* External interrupt lines the vector table provides (the SSE machines use up to 32 + 92). */
#define MPS2_NUM_IRQS 128

#endif /* MPS2_MACHINE_H */
