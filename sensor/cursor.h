/*
 * cursor.h - a read cursor over untrusted bytes.
 *
 * Invariant: off <= len. Every read first checks the remaining length
 * (never a pointer past the end, which compilers may fold away), and an
 * error is sticky, so a parser reads as a straight line with one check of
 * `bad` at the end of each header.
 */
#ifndef VIGIL_CURSOR_H
#define VIGIL_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vg_cursor {
    const uint8_t *p;
    size_t len, off;
    bool bad;
} vg_cursor;

static inline vg_cursor vg_cursor_make(const uint8_t *p, size_t len)
{
    vg_cursor c = { p, len, 0, false };
    return c;
}

static inline size_t vg_left(const vg_cursor *c)
{
    return c->len - c->off;
}

/* True if n more bytes can be read; otherwise marks the cursor bad. */
static inline bool vg_need(vg_cursor *c, size_t n)
{
    if (c->bad || n > c->len - c->off) {
        c->bad = true;
        return false;
    }
    return true;
}

static inline const uint8_t *vg_here(const vg_cursor *c)
{
    return c->p + c->off;
}

static inline void vg_skip(vg_cursor *c, size_t n)
{
    if (vg_need(c, n))
        c->off += n;
}

static inline uint8_t vg_u8(vg_cursor *c)
{
    if (!vg_need(c, 1))
        return 0;
    return c->p[c->off++];
}

static inline uint16_t vg_be16(vg_cursor *c)
{
    if (!vg_need(c, 2))
        return 0;
    uint16_t v = (uint16_t)((unsigned)c->p[c->off] << 8 | c->p[c->off + 1]);
    c->off += 2;
    return v;
}

static inline uint16_t vg_le16(vg_cursor *c)
{
    if (!vg_need(c, 2))
        return 0;
    uint16_t v = (uint16_t)((unsigned)c->p[c->off + 1] << 8 | c->p[c->off]);
    c->off += 2;
    return v;
}

static inline uint32_t vg_be32(vg_cursor *c)
{
    if (!vg_need(c, 4))
        return 0;
    const uint8_t *b = c->p + c->off;
    c->off += 4;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline uint32_t vg_le32(vg_cursor *c)
{
    if (!vg_need(c, 4))
        return 0;
    const uint8_t *b = c->p + c->off;
    c->off += 4;
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

/* Copy n bytes out; on a short read the destination is zeroed. */
static inline void vg_copy(vg_cursor *c, void *dst, size_t n)
{
    uint8_t *d = dst;
    if (!vg_need(c, n)) {
        for (size_t i = 0; i < n; i++)
            d[i] = 0;
        return;
    }
    for (size_t i = 0; i < n; i++)
        d[i] = c->p[c->off + i];
    c->off += n;
}

/* A child cursor over the next n bytes (a length-prefixed field). */
static inline vg_cursor vg_sub(vg_cursor *c, size_t n)
{
    vg_cursor s = { c->p, 0, 0, true };
    if (vg_need(c, n)) {
        s = vg_cursor_make(c->p + c->off, n);
        c->off += n;
    }
    return s;
}

#endif
