/* startup.c: vector table and reset handler for Cortex-M4/M7: enables the FPU, copies .data
 * from flash, clears .bss and calls main (through newlib's crt0 on semihosting boards). */
#include <stdint.h>

#include "board_config.h"

extern uint32_t __data_load, __data_start, __data_end, __bss_start__, __bss_end__, __stack_top;
int main(void);
void Reset_Handler(void);
void SysTick_Handler(void);
static void Fault_Handler(void);

#if BOARD_SEMIHOSTING
extern void _start(void);
extern void _exit(int status);
#endif

/* The vector table: initial stack pointer (an object address), then the handlers. */
struct vector_table {
  uint32_t *stack_top;
  void (*handlers[15])(void);
};
__attribute__((section(".vectors"), used)) static const struct vector_table vectors = {
    &__stack_top,
    {Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler, 0, 0, 0, 0,
     Fault_Handler, Fault_Handler, 0, Fault_Handler, SysTick_Handler}};

/* Under QEMU a fault ends the run with status 99 instead of hanging; on a board it stops here
 * for the debugger. */
static void Fault_Handler(void)
{
#if BOARD_SEMIHOSTING
  _exit(99);
#endif
  for (;;) {
  }
}

void Reset_Handler(void)
{
  uint32_t *src = &__data_load, *dst = &__data_start;
  /* CPACR: full access to CP10/CP11, or the first float instruction faults. */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  while (dst < &__data_end) *dst++ = *src++;
  for (dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0u;
#if BOARD_SEMIHOSTING
  _start(); /* newlib's rdimon crt0: semihosting set-up, main, exit(status) ends QEMU */
#else
  (void)main();
#endif
  for (;;) {
  }
}
