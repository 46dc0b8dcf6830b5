/* Flattened device tree reader (see dtb.h). */
#include "guest.h"

#define FDT_MAGIC	0xd00dfeed
#define FDT_BEGIN_NODE	1
#define FDT_END_NODE	2
#define FDT_PROP	3
#define FDT_NOP		4
#define FDT_END		9

static const uint8_t *blob;
static uint32_t total, off_struct, size_struct, off_strings, size_strings;

int dtb__init(const void *p, size_t max)
{
	const uint8_t *h = p;
	uint32_t version;

	blob = NULL;
	if (!p || max < 40 || be32(h) != FDT_MAGIC)
		return -1;
	total = be32(h + 4);
	off_struct = be32(h + 8);
	off_strings = be32(h + 12);
	version = be32(h + 20);
	size_strings = be32(h + 32);
	size_struct = be32(h + 36);	/* version 17 field */
	if (version < 17 || total > max || off_struct > total || size_struct > total - off_struct ||
	    off_strings > total || size_strings > total - off_strings || size_struct % 4)
		return -1;
	blob = h;
	return 0;
}

uint32_t dtb__size(void)
{
	return blob ? total : 0;
}

static uint32_t tag_at(int off)
{
	if (!blob || off < 0 || (uint32_t)off + 4 > size_struct)
		return FDT_END;
	return be32(blob + off_struct + off);
}

/* The offset of the token after the one at @off, or -1 at FDT_END / on damage. */
static int next_tag(int off)
{
	uint32_t tag = tag_at(off), len;
	const char *name;
	size_t n;

	switch (tag) {
	case FDT_BEGIN_NODE:
		name = (const char *)blob + off_struct + off + 4;
		n = strnlen(name, size_struct - off - 4);
		if (n == size_struct - off - 4)
			return -1;
		return (off + 4 + n + 1 + 3) & ~3;
	case FDT_PROP:
		if ((uint32_t)off + 12 > size_struct)
			return -1;
		len = be32(blob + off_struct + off + 4);
		if (len > size_struct - off - 12)
			return -1;
		return (off + 12 + len + 3) & ~3;
	case FDT_END_NODE:
	case FDT_NOP:
		return off + 4;
	default:
		return -1;
	}
}

static int skip_nops(int off)
{
	while (off >= 0 && tag_at(off) == FDT_NOP)
		off = next_tag(off);
	return off;
}

int dtb__root(void)
{
	int off = skip_nops(0);

	return tag_at(off) == FDT_BEGIN_NODE ? off : -1;
}

const char *dtb__name(int node)
{
	if (tag_at(node) != FDT_BEGIN_NODE)
		return NULL;
	return (const char *)blob + off_struct + node + 4;
}

/* The first token after @node's properties. */
static int after_props(int node)
{
	int off = next_tag(node);

	while (off >= 0 && (tag_at(off) == FDT_PROP || tag_at(off) == FDT_NOP))
		off = next_tag(off);
	return off;
}

int dtb__first_child(int node)
{
	int off;

	if (tag_at(node) != FDT_BEGIN_NODE)
		return -1;
	off = after_props(node);
	return tag_at(off) == FDT_BEGIN_NODE ? off : -1;
}

/* The token after @node's FDT_END_NODE. */
static int skip_node(int node)
{
	int depth = 0, off = node;

	for (uint32_t guard = 0; off >= 0 && guard < size_struct; guard++) {
		uint32_t tag = tag_at(off);

		if (tag == FDT_BEGIN_NODE)
			depth++;
		else if (tag == FDT_END_NODE && --depth == 0)
			return next_tag(off);
		else if (tag == FDT_END)
			return -1;
		off = next_tag(off);
	}
	return -1;
}

int dtb__next_sibling(int node)
{
	int off;

	if (tag_at(node) != FDT_BEGIN_NODE)
		return -1;
	off = skip_nops(skip_node(node));
	return tag_at(off) == FDT_BEGIN_NODE ? off : -1;
}

static bool has_unit_address(const char *comp, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (comp[i] == '@')
			return true;
	return false;
}

static bool name_matches(const char *name, const char *comp, size_t len)
{
	if (strncmp(name, comp, len))
		return false;
	/* "pci" matches "pci@e0000000"; "pci@e0000000" only itself. */
	return name[len] == '\0' || (name[len] == '@' && !has_unit_address(comp, len));
}

int dtb__path(const char *path)
{
	int node = dtb__root();

	if (!path || path[0] != '/')
		return -1;
	while (node >= 0 && *path) {
		const char *comp, *end;
		size_t len;
		int child;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		comp = path;
		end = strchr(comp, '/');
		len = end ? (size_t)(end - comp) : strlen(comp);
		path = comp + len;
		for (child = dtb__first_child(node); child >= 0; child = dtb__next_sibling(child))
			if (name_matches(dtb__name(child), comp, len))
				break;
		node = child;
	}
	return node;
}

const void *dtb__prop(int node, const char *name, int *len)
{
	int off;

	if (tag_at(node) != FDT_BEGIN_NODE)
		return NULL;
	for (off = next_tag(node); off >= 0; off = next_tag(off)) {
		uint32_t tag = tag_at(off), plen, nameoff;

		if (tag == FDT_NOP)
			continue;
		if (tag != FDT_PROP)
			break;
		plen = be32(blob + off_struct + off + 4);
		nameoff = be32(blob + off_struct + off + 8);
		if (nameoff >= size_strings || next_tag(off) < 0)	/* value must fit the block */
			return NULL;
		if (!strncmp((const char *)blob + off_strings + nameoff, name, size_strings - nameoff) &&
		    strnlen((const char *)blob + off_strings + nameoff, size_strings - nameoff) == strlen(name)) {
			if (len)
				*len = (int)plen;
			return blob + off_struct + off + 12;
		}
	}
	return NULL;
}

bool dtb__prop_u32(int node, const char *name, uint32_t *out)
{
	int len;
	const void *p = dtb__prop(node, name, &len);

	if (!p || len < 4)
		return false;
	*out = be32(p);
	return true;
}

const char *dtb__prop_str(int node, const char *name)
{
	int len;
	const char *p = dtb__prop(node, name, &len);

	if (!p || len < 1 || p[len - 1] != '\0')
		return NULL;
	return p;
}

bool dtb__is_compatible(int node, const char *compat)
{
	int len;
	const char *p = dtb__prop(node, "compatible", &len);

	/* A list of NUL-terminated strings. */
	while (p && len > 0) {
		size_t n = strnlen(p, len);

		if (n == strlen(compat) && !strncmp(p, compat, n))
			return true;
		p += n + 1;
		len -= n + 1;
	}
	return false;
}

int dtb__find_compatible(int after, const char *compat)
{
	int off = after < 0 ? dtb__root() : next_tag(after);

	for (; off >= 0 && tag_at(off) != FDT_END; off = next_tag(off))
		if (tag_at(off) == FDT_BEGIN_NODE && dtb__is_compatible(off, compat))
			return off;
	return -1;
}

uint64_t dtb__cells(const void *p, int ncells)
{
	const uint8_t *c = p;

	return ncells == 2 ? (uint64_t)be32(c) << 32 | be32(c + 4) : be32(c);
}

bool dtb__reg(int node, int index, uint64_t *addr, uint64_t *size)
{
	int len;
	const uint8_t *p = dtb__prop(node, "reg", &len);

	if (!p || index < 0 || len < (index + 1) * 16)
		return false;
	p += index * 16;
	*addr = dtb__cells(p, 2);
	*size = dtb__cells(p + 8, 2);
	return true;
}
