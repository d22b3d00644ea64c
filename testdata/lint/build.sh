#!/bin/sh
# Rebuild the lint fixtures' objects (testdata/lint/*.bpf.o) from testdata/lint/src; run from the
# repository root. The prefix map keeps the checkout path out of the objects' line info.
set -eu
cd "$(dirname "$0")/../.."
for src in testdata/lint/src/*.bpf.c; do
	obj="testdata/lint/$(basename "$src" .c).o"
	${CLANG:-clang-19} -target bpf -O2 -g -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu \
		-Itestdata/include -fdebug-prefix-map="$PWD"=. -c "$src" -o "$obj"
done
