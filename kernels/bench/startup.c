/* Bare-metal start-up for the QEMU kernel benchmark: vector table, FPU enable, .data copy,
 * and a SysTick interrupt that extends the 24-bit counter so long kernels can be timed. */
#include <stdint.h>

extern uint32_t __data_load, __data_start, __data_end, __stack_top;
extern void _start(void);
extern void _exit(int);
void bench_reset(void);
void bench_systick(void);
static void bench_fault(void);

volatile uint32_t bench_systick_wraps;

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(&__stack_top), bench_reset, bench_fault, bench_fault, bench_fault,
    bench_fault, bench_fault, 0, 0, 0, 0, bench_fault, bench_fault, 0, bench_fault,
    bench_systick};

/* A fault ends the run with exit status 99 (semihosting) instead of hanging the emulator. */
static void bench_fault(void)
{
  _exit(99);
}

void bench_systick(void)
{
  bench_systick_wraps++;
}

void bench_reset(void)
{
  uint32_t *src = &__data_load, *dst = &__data_start;
  /* CPACR: full access to CP10/CP11, or the first float instruction faults. */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  while (dst < &__data_end) *dst++ = *src++;
  _start(); /* newlib crt0: clears .bss, semihosting set-up, main, exit */
  for (;;) {
  }
}
