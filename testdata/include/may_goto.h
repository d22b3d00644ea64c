/* can_loop: true while the kernel lets the loop go on, false once the may_goto budget
 * is spent. clang-19 assembles `may_goto` (opcode 0xe5, BPF_JMP | BPF_JCOND); the
 * kernel falls through while its per-program counter/timer allows and jumps when not,
 * so the jump target is the "left early" path. */
#ifndef TESTDATA_MAY_GOTO_H
#define TESTDATA_MAY_GOTO_H

#define can_loop                                                \
	({                                                      \
		__label__ l_break, l_continue;                  \
		int __ok = 1;                                   \
		asm volatile goto("may_goto %l[l_break]" :::: l_break); \
		goto l_continue;                                \
	l_break:                                                \
		__ok = 0;                                       \
	l_continue:;                                            \
		__ok;                                           \
	})

#endif
