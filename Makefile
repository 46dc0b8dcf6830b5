# minivmm — see README.md.  `make`, `make run`, `make check`, `make bench`.
include config.mk

# Every .c file under these directories is part of the VMM library (libminivmm.a); machine/main.c adds main().
LIB_DIRS  := vmm boot devices devices/virtio devices/vfio acpi iommu machine
LIB_SRCS  := $(filter-out machine/main.c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
OBJ       := $(BUILD)/obj
LIB_OBJS  := $(LIB_SRCS:%.c=$(OBJ)/%.o)
LIB       := $(BUILD)/libminivmm.a
BIN       := $(if $(filter build,$(BUILD)),minivmm,$(BUILD)/minivmm)

# Tier-1 unit tests: each tests/unit/test_*.c is its own Check executable.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELPERS := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
UNIT_HELPER_OBJS := $(UNIT_HELPERS:%.c=$(OBJ)/%.o)

# Guest programs (freestanding): guest/lib is their runtime, guest/default the embedded default guest,
# tests/guest/*.c the tier-2 test programs (one ELF each).
GBUILD      := build/guest
GLIB_SRCS   := $(wildcard guest/lib/*.c guest/lib/*.S)
GLIB_OBJS   := $(patsubst %,$(GBUILD)/obj/%.o,$(basename $(GLIB_SRCS)))
GLIB        := $(GBUILD)/libguest.a
GDEF_SRCS   := $(wildcard guest/default/*.c)
GDEF_ELF    := $(GBUILD)/default.elf
GTEST_SRCS  := $(wildcard tests/guest/*.c)
GTEST_ELFS  := $(GTEST_SRCS:tests/guest/%.c=$(GBUILD)/tests/%.elf)

ifeq ($(SAN),1)
  CFLAGS += $(SAN_FLAGS)
  LDFLAGS += $(SAN_FLAGS)
endif

.PHONY: all run check unit unit-asan guests guest-tests bench bench-build clean golden fuzz lab lab-shell help
all: $(BIN)

help:
	@echo "make            build ./minivmm"
	@echo "make run        boot the embedded default guest"
	@echo "make check      every test tier this host can run (says which ran and which could not)"
	@echo "make bench      benchmark figures"
	@echo "make golden     regenerate the ACPI golden tables in tests/golden and show the iasl -d diff"
	@echo "make lab-shell  a shell in the nested lab (L1) with minivmm on the path"

# Keep every object: test mains and helpers reached only through pattern rules would count as
# intermediate files and be deleted after each link, then rebuilt.
.SECONDARY:

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@; ar rcs $@ $^

# The default guest is linked into the binary as a byte array (default_guest_elf[]).
$(OBJ)/embedded_guest.o: $(GDEF_ELF)
	@mkdir -p $(dir $@)
	printf '.section .rodata\n.balign 16\n.global default_guest_elf\ndefault_guest_elf:\n.incbin "%s"\n.global default_guest_elf_end\ndefault_guest_elf_end:\n.section .note.GNU-stack,"",@progbits\n' $< > $(OBJ)/embedded_guest.S
	$(CC) -c -o $@ $(OBJ)/embedded_guest.S

$(BIN): $(OBJ)/machine/main.o $(OBJ)/embedded_guest.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(UNIT_HELPER_OBJS) $(OBJ)/embedded_guest.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)

unit: $(UNIT_BINS)

# Benchmark programs (bench/*.c but bench-lib.c, their helpers): host programs linked with the VMM
# library; `make bench` builds them all (bench-build) and runs bench/run.sh.
BENCH_HELPERS := bench/bench-lib.c
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(filter-out $(BENCH_HELPERS),$(wildcard bench/*.c)))
$(BUILD)/bench/%: $(OBJ)/bench/%.o $(BENCH_HELPERS:%.c=$(OBJ)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test tools (tests/tools/*.c): small host programs used by test scripts, linked with the VMM library.
$(BUILD)/tools/%: $(OBJ)/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- guest programs ----
$(GBUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<
$(GBUILD)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -MMD -MP -c -o $@ $<
$(GLIB): $(GLIB_OBJS)
	rm -f $@; ar rcs $@ $^
$(GDEF_ELF): $(GDEF_SRCS:%.c=$(GBUILD)/obj/%.o) $(GLIB) guest/lib/guest.ld
	$(CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^) $(GLIB) -lgcc
$(GBUILD)/tests/%.elf: $(GBUILD)/obj/tests/guest/%.o $(GLIB) guest/lib/guest.ld
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_LDFLAGS) -o $@ $< $(GLIB) -lgcc
guests: $(GDEF_ELF) $(GTEST_ELFS) $(BUILD)/tools/pattern-disk

# ---- user commands ----
# Without a usable /dev/kvm scripts/run.sh runs ./minivmm in the lab's L1 (README: Two commands).
run:
	@bash scripts/run.sh

check:
	bash scripts/check.sh

unit-asan:
	$(MAKE) BUILD=build/asan SAN=1 OPT="-O1 -g" unit build/asan/minivmm

golden:
	bash scripts/golden-acpi.sh

# Everything bench/run.sh and bench/guest.sh run: guest.sh may run where there is no make or compiler.
bench-build: $(BIN) guests $(BENCH_BINS)

bench: bench-build
	bash bench/run.sh

lab lab-shell:
	bash scripts/lab.sh $@

clean:
	rm -rf build minivmm

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
