/* dwarf_encoding.h — reading the bytes of .eh_frame and .eh_frame_hdr:
 * LEB128 and fixed-size values, and pointers in a DWARF pointer encoding
 * (DW_EH_PE_*, the LSB's "DWARF Extensions" and the x86-64 psABI). One decoder
 * for the unwind-table snapshot (unwind_context.c) and the call-frame rules
 * (frame_rules.c); static inline, so frame_rules.c's rule computation keeps
 * its reads inlined. Every read stays inside the cursor's bytes: one past
 * them sets bad and yields 0. Little-endian only, as is every target of ours. */
#ifndef CONAN_DWARF_ENCODING_H
#define CONAN_DWARF_ENCODING_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The low four bits of an encoding: how the value is stored. */
#define DW_EH_PE_absptr 0x00   /* a native pointer: 8 bytes here */
#define DW_EH_PE_uleb128 0x01
#define DW_EH_PE_udata2 0x02
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_udata8 0x04
#define DW_EH_PE_sleb128 0x09
#define DW_EH_PE_sdata2 0x0a
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_sdata8 0x0c
#define DW_EH_PE_FORMAT_MASK 0x0f
/* Bits 4-6: what the value is relative to (bit 7, indirect, is ignored). */
#define DW_EH_PE_pcrel 0x10    /* the address it is stored at */
#define DW_EH_PE_datarel 0x30  /* .eh_frame_hdr's start, in its table */
#define DW_EH_PE_APPLICATION_MASK 0x70
/* No value at all. */
#define DW_EH_PE_omit 0xff

struct conan_dwarf_cursor {
    const unsigned char *p, *end;
    bool bad;                  /* a read ran past end or was malformed */
};

static inline uint64_t conan_dwarf_uleb(struct conan_dwarf_cursor *c)
{
    uint64_t v = 0;
    for (int shift = 0; c->p < c->end && shift < 64; shift += 7) {
        unsigned char b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    c->bad = true;
    return 0;
}

static inline int64_t conan_dwarf_sleb(struct conan_dwarf_cursor *c)
{
    int64_t v = 0;
    int shift = 0;
    while (c->p < c->end && shift < 64) {
        unsigned char b = *c->p++;
        v |= (int64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40)) v |= -((int64_t)1 << shift);
            return v;
        }
    }
    c->bad = true;
    return 0;
}

/* size (1, 2, 4 or 8) bytes, unsigned. */
static inline uint64_t conan_dwarf_fixed(struct conan_dwarf_cursor *c, int size)
{
    if (c->end - c->p < size) {
        c->bad = true;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, c->p, (size_t)size); /* little-endian */
    c->p += size;
    return v;
}

/* The value of a pointer in encoding enc, as stored (the sdata forms sign
 * extended), before its application; false for a format we do not know. */
static inline bool conan_dwarf_read_value(struct conan_dwarf_cursor *c, unsigned char enc, int64_t *value)
{
    switch (enc & DW_EH_PE_FORMAT_MASK) {
    case DW_EH_PE_absptr:
    case DW_EH_PE_udata8:
    case DW_EH_PE_sdata8: *value = (int64_t)conan_dwarf_fixed(c, 8); break;
    case DW_EH_PE_udata4: *value = (int64_t)conan_dwarf_fixed(c, 4); break;
    case DW_EH_PE_sdata4: *value = (int32_t)conan_dwarf_fixed(c, 4); break;
    case DW_EH_PE_udata2: *value = (int64_t)conan_dwarf_fixed(c, 2); break;
    case DW_EH_PE_sdata2: *value = (int16_t)conan_dwarf_fixed(c, 2); break;
    case DW_EH_PE_uleb128: *value = (int64_t)conan_dwarf_uleb(c); break;
    case DW_EH_PE_sleb128: *value = conan_dwarf_sleb(c); break;
    default: return false;
    }
    return !c->bad;
}

/* Steps over a pointer in encoding enc (DW_EH_PE_omit: there is none), when
 * only its size matters. */
static inline bool conan_dwarf_skip_pointer(struct conan_dwarf_cursor *c, unsigned char enc)
{
    int64_t ignored;
    return enc == DW_EH_PE_omit || conan_dwarf_read_value(c, enc, &ignored);
}

/* Reads a pointer in encoding enc into *out: absolute, or relative to where
 * it is stored (pcrel); false for other applications, which need bases the
 * caller does not have. */
static inline bool conan_dwarf_read_pointer(struct conan_dwarf_cursor *c, unsigned char enc, uintptr_t *out)
{
    const unsigned char *at = c->p;
    int64_t value;
    if (!conan_dwarf_read_value(c, enc, &value)) return false;
    switch (enc & DW_EH_PE_APPLICATION_MASK) {
    case 0: *out = (uintptr_t)value; return true;
    case DW_EH_PE_pcrel: *out = (uintptr_t)at + (uintptr_t)value; return true;
    default: return false;
    }
}

#endif
