/* board.c: register-level board set-up for the test firmware. QEMU boards: semihosting console
 * and SysTick instruction counting. STM32 boards: reset-default clock, console UART on the
 * ST-LINK virtual COM port (pins and registers from board_config.h), DWT cycle counter. */
#include <stdint.h>
#include <sys/stat.h>

#include "board.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

#if BOARD_SEMIHOSTING

extern void initialise_monitor_handles(void);
static volatile uint32_t systick_wraps;
const char board_count_unit[] = "instructions";

void SysTick_Handler(void)
{
  systick_wraps++;
}

void board_init(void)
{
  initialise_monitor_handles();
  REG(0xE000E014u) = 0xFFFFFFu; /* SYST_RVR: full 24-bit range, the interrupt extends it */
  REG(0xE000E018u) = 0u;        /* SYST_CVR */
  REG(0xE000E010u) = 7u;        /* SYST_CSR: enable, interrupt, processor clock */
}

uint64_t board_ticks(void)
{
  uint32_t w1, v, w2;
  do {
    w1 = systick_wraps;
    v = REG(0xE000E018u);
    w2 = systick_wraps;
  } while (w1 != w2);
  return (uint64_t)w1 * 0x1000000u + (0xFFFFFFu - v);
}

uint64_t board_count(uint64_t ticks)
{
  return (ticks * 5u + 8u) / 16u; /* 3.2 ticks per instruction */
}

#else /* STM32 board */

const char board_count_unit[] = "cycles";
static uint32_t last_cycles;
static uint64_t high_cycles;

void SysTick_Handler(void)
{
}

static void pin_af(uint32_t gpio, uint32_t pin, uint32_t af)
{
  REG(gpio + 0x00u) = (REG(gpio + 0x00u) & ~(3u << (pin * 2u))) | (2u << (pin * 2u)); /* MODER: AF */
  REG(gpio + 0x08u) |= 2u << (pin * 2u);                                             /* OSPEEDR: high */
  REG(gpio + 0x20u + (pin / 8u) * 4u) =
      (REG(gpio + 0x20u + (pin / 8u) * 4u) & ~(0xFu << ((pin % 8u) * 4u))) | (af << ((pin % 8u) * 4u));
}

static void uart_putc(char c)
{
#if BOARD_UART_ISR_TDR
  while ((REG(BOARD_UART_BASE + 0x1Cu) & (1u << 7)) == 0u) { /* ISR.TXE */
  }
  REG(BOARD_UART_BASE + 0x28u) = (uint32_t)(unsigned char)c; /* TDR */
#else
  while ((REG(BOARD_UART_BASE + 0x00u) & (1u << 7)) == 0u) { /* SR.TXE */
  }
  REG(BOARD_UART_BASE + 0x04u) = (uint32_t)(unsigned char)c; /* DR */
#endif
}

void board_init(void)
{
#if BOARD_CORTEX_M7
  /* Instruction cache on (no data cache: nothing here needs cache maintenance). */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  REG(0xE000EF50u) = 0u; /* ICIALLU */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  REG(0xE000ED14u) |= 1u << 17; /* CCR.IC */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  /* Clock: the reset default (see board_config.h); GPIO port and UART clocks on. */
  REG(BOARD_GPIO_EN_REG) |= 1u << BOARD_GPIO_EN_BIT;
  REG(BOARD_UART_EN_REG) |= 1u << BOARD_UART_EN_BIT;
  (void)REG(BOARD_UART_EN_REG); /* read back: the enable takes effect before the first access */
  pin_af(BOARD_GPIO_BASE, BOARD_TX_PIN, BOARD_UART_AF);
  pin_af(BOARD_GPIO_BASE, BOARD_RX_PIN, BOARD_UART_AF);
#if BOARD_UART_ISR_TDR
  REG(BOARD_UART_BASE + 0x0Cu) = (BOARD_UART_CLOCK_HZ + BOARD_UART_BAUD / 2u) / BOARD_UART_BAUD; /* BRR */
  REG(BOARD_UART_BASE + 0x00u) = (1u << 3) | (1u << 0);                                        /* CR1: TE, UE */
#else
  REG(BOARD_UART_BASE + 0x08u) = (BOARD_UART_CLOCK_HZ + BOARD_UART_BAUD / 2u) / BOARD_UART_BAUD; /* BRR */
  REG(BOARD_UART_BASE + 0x0Cu) = (1u << 13) | (1u << 3);                                       /* CR1: UE, TE */
#endif
  /* DWT cycle counter: DEMCR.TRCENA, unlock (Cortex-M7), reset, CYCCNTENA. */
  REG(0xE000EDFCu) |= 1u << 24;
#if BOARD_CORTEX_M7
  REG(0xE0001FB0u) = 0xC5ACCE55u;
#endif
  REG(0xE0001004u) = 0u;
  REG(0xE0001000u) |= 1u;
}

uint64_t board_ticks(void)
{
  /* CYCCNT is 32 bits; calls come far more often than every 2^32 cycles. */
  const uint32_t now = REG(0xE0001004u);
  if (now < last_cycles) high_cycles += 0x100000000ull;
  last_cycles = now;
  return high_cycles | now;
}

uint64_t board_count(uint64_t ticks)
{
  return ticks;
}

/* Minimal system calls for newlib's printf: stdout and stderr go to the UART. */
int _write(int fd, const char *buf, int len);
int _read(int fd, char *buf, int len);
int _close(int fd);
int _fstat(int fd, struct stat *st);
int _isatty(int fd);
int _lseek(int fd, int offset, int whence);

int _write(int fd, const char *buf, int len)
{
  int i;
  (void)fd;
  for (i = 0; i < len; i++) {
    if (buf[i] == '\n') uart_putc('\r');
    uart_putc(buf[i]);
  }
  return len;
}

int _read(int fd, char *buf, int len)
{
  (void)fd;
  (void)buf;
  (void)len;
  return 0; /* no console input */
}

int _close(int fd)
{
  (void)fd;
  return -1;
}

int _fstat(int fd, struct stat *st)
{
  (void)fd;
  st->st_mode = S_IFCHR;
  return 0;
}

int _isatty(int fd)
{
  (void)fd;
  return 1;
}

int _lseek(int fd, int offset, int whence)
{
  (void)fd;
  (void)offset;
  (void)whence;
  return 0;
}

#endif
