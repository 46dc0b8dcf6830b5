# Build configuration for minivmm. Included by Makefile.
CC        ?= cc
CLANG     ?= clang
BUILD     ?= build
CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
               -Wmissing-prototypes -D_GNU_SOURCE -I. -pthread
OPT       ?= -O2 -g
CFLAGS    ?= $(OPT)
CFLAGS    += $(CFLAGS_BASE) -DMINIVMM_VERSION=\"$(VERSION)\"
LDLIBS    := -lfdt -luring -pthread
CHECK_LIBS := -lcheck -lsubunit -lm -lrt -pthread
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Guest programs: freestanding x86-64, loaded at their ELF physical addresses.
GUEST_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -O2 -g -ffreestanding -fno-pic -fno-pie \
                -fno-stack-protector -fno-builtin -nostdlib -mno-red-zone -mno-sse -mno-mmx -mno-avx \
                -mgeneral-regs-only -mcmodel=small -fno-asynchronous-unwind-tables -Iguest/lib -I.
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-T,guest/lib/guest.ld

# Dependencies: Debian packages, and kernel UAPI headers with iommufd nesting (Linux 6.8+, checked by a
# compile test in scripts/check-uapi.sh). When something is missing, scripts/install-deps.sh installs it
# (as root) or prints the command to run; make stops if it is still missing.
# `make check` and `make run` leave it to their scripts, which install the lab's packages in the same step.
ifeq ($(filter clean help check run,$(MAKECMDGOALS)),)
DEPS_OK := $(shell bash scripts/install-deps.sh --check >/dev/null 2>&1 && echo yes)
ifneq ($(DEPS_OK),yes)
  $(info config.mk: some build dependencies are missing; running scripts/install-deps.sh)
  DEPS_RC := $(shell bash scripts/install-deps.sh >&2; echo $$?)
  ifneq ($(DEPS_RC),0)
    $(error missing build dependencies (see the lines above for what to install))
  endif
endif
endif

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
