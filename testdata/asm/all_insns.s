# Every BPF instruction kind, for the codec's oracle test (tests/test_isa_objdump.py compares
# bpfrewrite's text with llvm-objdump-19's for each instruction of this object).
#
# Rebuild (from the repository root):
#   llvm-mc-19 -triple bpfel -mcpu=v4 -filetype=obj testdata/asm/all_insns.s -o testdata/asm/all_insns.o
#
# Where llvm-mc-19 has no syntax for an encoding, a `.quad` writes the 8-byte slot directly
# (value = code | regs << 8 | off << 16 | imm << 32; regs = src << 4 | dst):
#   - load-acquire / store-release (added to the ISA after LLVM 19; LLVM 19 decodes only imm bits 0-7,
#     so objdump-19 prints load-acquire (0x100) as `lock ... +=` and store-release (0x110) as <unknown>),
#   - a kfunc call (src_reg 2; in objects clang writes src_reg 1 and libbpf sets 2 at load time),
#   - ld_imm64 of a map value with an offset in the second slot's imm,
#   - an opcode that does not exist (objdump: <unknown>).
# Not meant to load: it is a catalogue. Jumps go to the next instruction so the CFG stays simple.

	.text
	.globl	all_insns
	.type	all_insns,@function
all_insns:
# ALU64, register and immediate forms
	r1 += r2
	r1 += 5
	r1 -= r2
	r1 -= -5
	r1 *= r2
	r1 *= 7
	r1 /= r2
	r1 /= 3
	r1 |= r2
	r1 |= 0x10
	r1 &= r2
	r1 &= 0xff
	r1 <<= r2
	r1 <<= 3
	r1 >>= r2
	r1 >>= 3
	r1 %= r2
	r1 %= 3
	r1 ^= r2
	r1 ^= -1
	r1 = r2
	r1 = 2147483647
	r1 = -2147483648
	r1 s>>= r2
	r1 s>>= 63
	r1 = -r1
# ALU32
	w1 += w2
	w1 += 5
	w1 -= w2
	w1 -= 5
	w1 *= w2
	w1 *= 5
	w1 /= w2
	w1 /= 5
	w1 |= w2
	w1 |= 5
	w1 &= w2
	w1 &= 5
	w1 <<= w2
	w1 <<= 5
	w1 >>= w2
	w1 >>= 5
	w1 %= w2
	w1 %= 5
	w1 ^= w2
	w1 ^= 5
	w1 = w2
	w1 = 5
	w1 s>>= w2
	w1 s>>= 5
	w1 = -w1
# ISA v4: signed division and modulo (off=1), sign-extending moves (off=8/16/32), bswap
	r1 s/= r2
	r1 s/= -3
	r1 s%= r2
	r1 s%= -3
	w1 s/= w2
	w1 s/= 3
	w1 s%= w2
	w1 s%= 3
	r1 = (s8)r2
	r1 = (s16)r2
	r1 = (s32)r2
	w1 = (s8)w2
	w1 = (s16)w2
	r1 = bswap16 r1
	r1 = bswap32 r1
	r1 = bswap64 r1
# byte order conversions (ALU class; printed with r registers)
	r1 = be16 r1
	r1 = be32 r1
	r1 = be64 r1
	r1 = le16 r1
	r1 = le32 r1
	r1 = le64 r1
# arena pointer cast (ALU64 MOV X with off=1)
	r1 = addr_space_cast(r2, 1, 0)
	r1 = addr_space_cast(r2, 0, 1)
# conditional jumps, 64-bit
	if r1 == r2 goto +0
	if r1 == 1 goto +0
	if r1 != r2 goto +0
	if r1 != -1 goto +0
	if r1 > r2 goto +0
	if r1 > 1 goto +0
	if r1 >= r2 goto +0
	if r1 >= 1 goto +0
	if r1 < r2 goto +0
	if r1 < 1 goto +0
	if r1 <= r2 goto +0
	if r1 <= 1 goto +0
	if r1 s> r2 goto +0
	if r1 s> -1 goto +0
	if r1 s>= r2 goto +0
	if r1 s>= -1 goto +0
	if r1 s< r2 goto +0
	if r1 s< -1 goto +0
	if r1 s<= r2 goto +0
	if r1 s<= -1 goto +0
	if r1 & r2 goto +0
	if r1 & 8 goto +0
# conditional jumps, 32-bit (JMP32)
	if w1 == w2 goto +0
	if w1 == 1 goto +0
	if w1 != w2 goto +0
	if w1 > w2 goto +0
	if w1 >= 1 goto +0
	if w1 < w2 goto +0
	if w1 <= 1 goto +0
	if w1 s> w2 goto +0
	if w1 s>= -1 goto +0
	if w1 s< w2 goto +0
	if w1 s<= -1 goto +0
	if w1 & w2 goto +0
	if w1 & 8 goto +0
# unconditional jumps, may_goto, a backward jump
	goto +0
	gotol +0
	may_goto +0
	if r1 == r2 goto -1
# calls: helper, bpf-to-bpf (relocated, src_reg 1), extern (src_reg 1 in objects), register
	call 1
	call 12
	call all_insns
	call bpf_some_kfunc
	.quad 0xffffffff00000285	# call -1 with src_reg 2 (BPF_PSEUDO_KFUNC_CALL), as after libbpf
	callx r3
# loads
	r1 = *(u8 *)(r2 + 0)
	r1 = *(u16 *)(r2 + 2)
	r1 = *(u32 *)(r2 - 4)
	r1 = *(u64 *)(r10 - 8)
	w1 = *(u32 *)(r2 + 0)
# sign-extending loads (BPF_MEMSX)
	r1 = *(s8 *)(r2 + 0)
	r1 = *(s16 *)(r2 - 2)
	r1 = *(s32 *)(r2 + 4)
# stores from registers and immediates
	*(u8 *)(r10 - 1) = r1
	*(u16 *)(r10 - 2) = r1
	*(u32 *)(r10 - 4) = r1
	*(u64 *)(r10 - 8) = r1
	*(u32 *)(r10 - 4) = w1
	*(u8 *)(r10 - 1) = 1
	*(u16 *)(r10 - 2) = 2
	*(u32 *)(r10 - 4) = 3
	*(u64 *)(r10 - 8) = -4
# legacy packet access (implicit skb in r6)
	r0 = *(u8 *)skb[1]
	r0 = *(u16 *)skb[2]
	r0 = *(u32 *)skb[4]
	r0 = *(u8 *)skb[r1]
	r0 = *(u16 *)skb[r1]
	r0 = *(u32 *)skb[r1]
# atomics, 64-bit
	lock *(u64 *)(r1 + 0) += r2
	lock *(u64 *)(r1 + 8) |= r2
	lock *(u64 *)(r1 + 0) &= r2
	lock *(u64 *)(r1 - 8) ^= r2
	r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)
	r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)
	r2 = atomic_fetch_and((u64 *)(r1 + 0), r2)
	r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)
	r2 = xchg_64(r1 + 0, r2)
	r0 = cmpxchg_64(r1 + 0, r0, r2)
# atomics, 32-bit (objdump-19 without --mcpu knows only `lock ... +=` here; the rest are <unknown>)
	lock *(u32 *)(r1 + 0) += w2
	lock *(u32 *)(r1 + 0) |= w2
	lock *(u32 *)(r1 + 0) &= w2
	lock *(u32 *)(r1 + 0) ^= w2
	w2 = atomic_fetch_add((u32 *)(r1 + 0), w2)
	w2 = atomic_fetch_or((u32 *)(r1 + 0), w2)
	w2 = atomic_fetch_and((u32 *)(r1 + 0), w2)
	w2 = atomic_fetch_xor((u32 *)(r1 + 0), w2)
	w2 = xchg32_32(r1 + 0, w2)
	w0 = cmpxchg32_32(r1 + 0, w0, w2)
# load-acquire (imm 0x100) and store-release (imm 0x110), 64- and 32-bit
	.quad 0x00000100000021db	# r1 = load_acquire((u64 *)(r2 + 0))
	.quad 0x00000110000021db	# store_release((u64 *)(r1 + 0), r2)
	.quad 0x00000100000021c3	# w1 = load_acquire((u32 *)(r2 + 0))
	.quad 0x00000110000021c3	# store_release((u32 *)(r1 + 0), w2)
# ld_imm64: plain constants, a relocated symbol, and every pseudo src_reg kind
	r1 = 0 ll
	r1 = -1 ll
	r1 = 0x123456789abcdef0 ll
	r1 = all_insns ll
	ld_pseudo r1, 1, 3	# BPF_PSEUDO_MAP_FD
	ld_pseudo r1, 2, 3	# BPF_PSEUDO_MAP_VALUE
	ld_pseudo r1, 3, 77	# BPF_PSEUDO_BTF_ID
	ld_pseudo r1, 4, 0	# BPF_PSEUDO_FUNC
	ld_pseudo r1, 5, 0	# BPF_PSEUDO_MAP_IDX
	ld_pseudo r1, 6, 0	# BPF_PSEUDO_MAP_IDX_VALUE
	.quad 0x0000000300000218	# BPF_PSEUDO_MAP_VALUE, map fd 3 ...
	.quad 0x0000001000000000	# ... value offset 16 in the second slot's imm
# an opcode that does not exist
	.quad 0x00000000000000ff
	r0 = 0
	exit
	.size	all_insns, .-all_insns
