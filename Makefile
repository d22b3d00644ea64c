# One entry point for a fresh machine: `make demo` and `make test` install what they need first.
PYTHON ?= python3
CLANG ?= clang-19
APT_PACKAGES := clang-19 llvm-19 libbpf-dev bpftool graphviz linux-libc-dev libcap2-bin iproute2
BPF_CFLAGS := -target bpf -O2 -g -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu -Itestdata/include

TESTDATA_SRC := $(wildcard testdata/src/*.bpf.c)
TESTDATA_OBJ := $(patsubst testdata/src/%.bpf.c,testdata/%.bpf.o,$(TESTDATA_SRC))
LINT_SRC := $(wildcard testdata/lint/src/*.bpf.c)
LINT_OBJ := $(patsubst testdata/lint/src/%.bpf.c,testdata/lint/%.bpf.o,$(LINT_SRC))
# Big-endian (-target bpfeb) builds of some of the same sources: BTF, .BTF.ext, maps, global data,
# subprograms, bpf_loop callbacks, kfuncs, CO-RE, a tail call, and code whose constants follow the
# byte order (sk_lookup, global_data).
EB_NAMES := loop subprogs shared_callback may_goto_callback ringbuf global_data tail_call spin_lock \
	res_spin_lock_checked core_kprobe sk_lookup two_progs_one_section
EB_OBJ := $(patsubst %,testdata/eb/%.bpf.o,$(EB_NAMES))

.PHONY: deps system-deps python-deps test demo testdata bench corpus realworld clean linux-source pyperf huge bench-large

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

python-deps:
	$(PYTHON) -m pip install -q -e '.[test]'

deps: system-deps python-deps

# Some tests compile C against the running kernel's vmlinux.h (generated, not checked in);
# the helper table's checker reads the kernel source the table cites (linux-source).
test: deps linux-source testdata/include/vmlinux.h
	$(PYTHON) -m pytest -q

# The main job on the shipped example: lint it, write its fast-path twin, prove both on the kernel.
demo: deps
	bpfrewrite lint --fail-on never testdata/loop.bpf.o
	mkdir -p build
	bpfrewrite patch testdata/loop.bpf.o build/loop.fast.o --report
	bpfrewrite verify build/loop.fast.o --run --repeat 5

# Every checked-in object: the corpus, the linter's fixtures and the assembler catalogue.
testdata: $(TESTDATA_OBJ) $(LINT_OBJ) $(EB_OBJ) testdata/asm/all_insns.o

# vmlinux.h comes from the running kernel and is not checked in (testdata/include/.gitignore);
# it is generated once, when missing. The prefix map keeps the checkout path out of DWARF so
# rebuilding in another directory gives the same bytes.
TESTDATA_HEADERS := $(wildcard testdata/include/*.h)

# One object is built at -mcpu=v3 so the corpus has ALU32/JMP32 code (clang 20's default).
testdata/res_spin_lock_alu32.bpf.o: BPF_CFLAGS += -mcpu=v3

testdata/include/vmlinux.h: | system-deps
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

testdata/%.bpf.o: testdata/src/%.bpf.c $(filter-out testdata/include/vmlinux.h,$(TESTDATA_HEADERS)) | testdata/include/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -fdebug-prefix-map=$(CURDIR)=. -c $< -o $@

testdata/eb/%.bpf.o: testdata/src/%.bpf.c $(filter-out testdata/include/vmlinux.h,$(TESTDATA_HEADERS)) | testdata/include/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -target bpfeb -fdebug-prefix-map=$(CURDIR)=. -c $< -o $@

testdata/lint/%.bpf.o: testdata/lint/src/%.bpf.c $(filter-out testdata/include/vmlinux.h,$(TESTDATA_HEADERS)) | testdata/include/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -fdebug-prefix-map=$(CURDIR)=. -c $< -o $@

testdata/asm/all_insns.o: testdata/asm/all_insns.s
	llvm-mc-19 -triple bpfel -mcpu=v4 -filetype=obj $< -o $@

bench: deps
	$(PYTHON) benchmarks/disasm_throughput.py

# The real-world regression set (never committed): kernel BPF selftests from the Debian package
# linux-source-6.12 (installed when missing) and projects from bare git mirrors under $(MIRROR)
# (OWNER+NAME/repo each; see docs/benchmarks.md), compiled into build/corpus/ at -j2, niced.
MIRROR ?= /work/.mirror
corpus: system-deps
	nice $(PYTHON) benchmarks/corpus/build.py --mirror $(MIRROR)

# Lint, patch and load every corpus object (root; private bpffs); prints the docs table.
realworld: corpus
	nice $(PYTHON) benchmarks/realworld.py --markdown --json build/corpus/realworld.json

# The largest real programs: the kernel's pyperf selftests, from Debian's linux-source (the only
# thing fetched is that Debian package; its tarball lands in /usr/src), built into build/.
LINUX_SOURCE := linux-source-6.12
LINUX_TARBALL := /usr/src/$(LINUX_SOURCE).tar.xz
SELFTESTS := build/selftests
SELFTEST_FILES := pyperf.h pyperf180.c pyperf600.c bpf_misc.h bpf_compiler.h
# As the selftests build them (clang-19, -mcpu=v4: pyperf180 is one ~77k-instruction function).
# -target bpf leaves __x86_64__ undefined, and glibc's headers then ask for gnu/stubs-32.h and
# make uintptr_t 32 bits: define it, as a native build of the selftests sees it.
PYPERF_CFLAGS := -target bpf -O2 -g -mcpu=v4 -D__TARGET_ARCH_x86 -D__x86_64__ -I/usr/include/x86_64-linux-gnu \
	-I$(SELFTESTS)

linux-source:
	@dpkg -s $(LINUX_SOURCE) >/dev/null 2>&1 || { echo "installing Debian package $(LINUX_SOURCE)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(LINUX_SOURCE) >/dev/null; }

$(SELFTESTS)/.extracted:
	$(MAKE) linux-source
	mkdir -p $(SELFTESTS)
	tar -xJf $(LINUX_TARBALL) -C $(SELFTESTS) --strip-components=6 \
		$(addprefix $(LINUX_SOURCE)/tools/testing/selftests/bpf/progs/,$(SELFTEST_FILES))
	touch $@

build/pyperf%.bpf.o: $(SELFTESTS)/.extracted
	$(CLANG) $(PYPERF_CFLAGS) -c $(SELFTESTS)/pyperf$*.c -o $@

pyperf: build/pyperf180.bpf.o build/pyperf600.bpf.o

# A tracee-sized object: 8 generated programs of ~54k instructions each (430k in all).
build/huge.bpf.c:
	mkdir -p build
	$(PYTHON) benchmarks/single_function.py --insns 430000 --shape loops --programs 8 --source > $@.tmp && mv $@.tmp $@

build/huge.bpf.o: build/huge.bpf.c
	$(CLANG) -target bpf -O2 -g -mcpu=v4 -I/usr/include/x86_64-linux-gnu -c $< -o $@

huge: build/huge.bpf.o

# lint, patch and disasm beside clang-19 and llvm-objdump-19 on the largest objects (each compiled
# and measured in the run, generated sources written to build/): docs/benchmarks.md.
bench-large: build/selftests/.extracted
	$(PYTHON) benchmarks/large_programs.py --write docs/benchmarks.md

clean:
	rm -rf build *.egg-info .pytest_cache
