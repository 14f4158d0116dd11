/* board.h: the little the test firmware needs from a board: set-up (reset-default clock,
 * console, counter), a free-running counter, and its unit. Register level, no vendor HAL. */
#ifndef BOARD_H
#define BOARD_H

#include <stdint.h>

#include "board_config.h"

void board_init(void);
/* Raw timer ticks since board_init (64-bit, wraps handled). */
uint64_t board_ticks(void);
/* A tick difference in board_count_unit: CPU cycles (DWT) or, under QEMU with -icount shift=7,
 * executed instructions (SysTick at 25 MHz of virtual time = 3.2 ticks per instruction). */
uint64_t board_count(uint64_t ticks);
extern const char board_count_unit[];

#endif /* BOARD_H */
