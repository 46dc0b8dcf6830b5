/*
 * The flattened device tree describing the machine minivmm built. `--dump-dtb FILE` writes it; guest
 * programs get it as setup_data SETUP_DTB and find the platform from it. Schema (all cells big-endian,
 * root #address-cells = <2>, #size-cells = <2>):
 *
 * / { compatible = "minivmm,machine"; model = "minivmm";
 *   chosen { bootargs = "..."; stdout-path = "/uart@3f8";
 *            minivmm,test-exit-port = <0x501>; }
 *   memory@0 { device_type = "memory"; reg = <base-hi base-lo size-hi size-lo> [second region]; }
 *   cpus { #address-cells = <1>; #size-cells = <0>;
 *          cpu@N { device_type = "cpu"; reg = <N>; }  (reg = LAPIC ID) }
 *   acpi { compatible = "minivmm,acpi"; minivmm,rsdp = <hi lo>; }
 *   uart@3f8 { compatible = "ns16550a"; minivmm,io-port = <0x3f8>; interrupts = <4>;
 *              clock-frequency = <1843200>; }
 *   ioapic@fec00000 { compatible = "intel,ioapic"; reg = <0 0xfec00000 0 0x1000>; minivmm,id = <0>; }
 *   lapic@fee00000 { compatible = "intel,lapic"; reg = <0 0xfee00000 0 0x1000>; }
 *   power@600 { compatible = "minivmm,acpi-pm"; minivmm,io-port = <0x600>;
 *               minivmm,s5-slp-typ = <5>; minivmm,reset-port = <0xcf9>; }
 *   pci@e0000000 { compatible = "pci-host-ecam-generic"; device_type = "pci";
 *                  reg = <0 0xe0000000 0 (last+1) MiB>; bus-range = <0 last>; minivmm,config-port = <0xcf8>;
 *                  #address-cells = <3>; #size-cells = <2>; ranges = <...io, mmio32, mmio64...>;
 *                  [iommu-map = <0 &iommu 0 0x10000>; when the vIOMMU is on]
 *       dev@D,F { reg = <(bus<<16 | devfn<<8) 0 0 0 0>; vendor-id = <v>; device-id = <d>;
 *                 class-code = <c>; minivmm,requester-id = <bus<<8|devfn>; } }
 *   iommu@fed90000 { compatible = "intel,vtd"; reg = <0 0xfed90000 0 0x1000>; phandle = <1>;
 *                    minivmm,mode = "flts" | "slts" | "nested"; minivmm,fs1gp; (only with fs1gp on) }
 * }
 */
#ifndef MINIVMM_FDT_H
#define MINIVMM_FDT_H

#include <stddef.h>

struct machine;

/* Build the tree for @m into a malloc'd blob: 0 with @blob and @len set, or -errno. */
int fdt__build(const struct machine *m, void **blob, size_t *len);

#endif
