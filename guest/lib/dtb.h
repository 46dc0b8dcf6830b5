/*
 * Reading a flattened device tree (Devicetree Specification v0.4, chapter 5 "Flattened Devicetree
 * (DTB) Format"). Nodes are named by their offset in the structure block; -1 means "none". All
 * accessors check bounds against the header, so a damaged blob gives -1/NULL rather than wild reads.
 */
#ifndef GUEST_DTB_H
#define GUEST_DTB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Check the header of @blob (at most @max bytes) and make it the current tree. 0 or -1. */
int dtb__init(const void *blob, size_t max);
uint32_t dtb__size(void);
int dtb__root(void);
/* "/cpus", "/pci@e0000000", "/pci/dev@1,0": a component without '@' matches the name before it. */
int dtb__path(const char *path);
int dtb__first_child(int node);
int dtb__next_sibling(int node);
/* The next node after @after (-1: from the start) in tree order whose compatible list has @compat. */
int dtb__find_compatible(int after, const char *compat);
const char *dtb__name(int node);
/* Property value and length (bytes), or NULL. */
const void *dtb__prop(int node, const char *name, int *len);
bool dtb__prop_u32(int node, const char *name, uint32_t *out);
/* A string property (NUL-terminated inside its length), or NULL. */
const char *dtb__prop_str(int node, const char *name);
bool dtb__is_compatible(int node, const char *compat);
/* @ncells big-endian cells (1 or 2) at @p as one number. */
uint64_t dtb__cells(const void *p, int ncells);
/* reg entry @index of @node with 2 address and 2 size cells (the root's). */
bool dtb__reg(int node, int index, uint64_t *addr, uint64_t *size);

#endif
