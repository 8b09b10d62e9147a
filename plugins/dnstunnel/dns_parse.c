/*
 * dns_parse.c - read the header and the first question of a DNS message
 * with the sensor's read cursor (see dns_parse.h for the guarantees).
 */
#include "dns_parse.h"

#include <string.h>

#include "cursor.h"

#define PTR_MASK 0xC0u

static uint8_t lower_ascii(uint8_t b)
{
    return (b >= 'A' && b <= 'Z') ? (uint8_t)(b + ('a' - 'A')) : b;
}

/* Append one label; -1 when the wire-name budget or label count is hit. */
static int add_label(struct dns_question *q, const uint8_t *src, uint8_t n, unsigned *wire_used)
{
    if (q->nlabels >= DNS_MAX_LABELS || *wire_used + 1u + n + 1u > DNS_MAX_WIRE_NAME)
        return -1;
    q->label_off[q->nlabels] = (uint8_t)q->name_bytes;
    q->label_len[q->nlabels] = n;
    for (uint8_t i = 0; i < n; i++)
        q->name[q->name_bytes + i] = lower_ascii(src[i]);
    q->name_bytes = (uint16_t)(q->name_bytes + n);
    q->nlabels++;
    *wire_used += 1u + n;
    return 0;
}

/*
 * Read the name at c's position. After the first compression pointer the
 * main cursor stays just past it and reading goes on in a copy that may
 * only jump to offsets before the label it jumped from.
 */
static int read_name(vg_cursor *c, struct dns_question *q)
{
    vg_cursor r = *c;
    int jumped = 0;
    unsigned hops = 0, wire_used = 0;
    size_t limit = r.off;       /* a pointer must point before this */
    for (;;) {
        size_t label_at = r.off;
        uint8_t n = vg_u8(&r);
        if (r.bad)
            return -1;
        if (n == 0)
            break;
        if ((n & PTR_MASK) == PTR_MASK) {
            size_t target = (size_t)(n & ~PTR_MASK) << 8 | vg_u8(&r);
            if (r.bad || ++hops > DNS_MAX_HOPS || target >= label_at || target >= limit)
                return -1;
            if (!jumped)
                *c = r;         /* the question continues after the pointer */
            jumped = 1;
            limit = target;
            r.off = target;
            continue;
        }
        if (n & PTR_MASK)       /* 0x40 and 0x80: reserved label types */
            return -1;
        if (!vg_need(&r, n) || add_label(q, vg_here(&r), n, &wire_used) != 0)
            return -1;
        vg_skip(&r, n);
    }
    if (!jumped)
        *c = r;
    return 0;
}

int dns_parse_question(const uint8_t *msg, size_t len, struct dns_question *q)
{
    memset(q, 0, offsetof(struct dns_question, label_off));
    vg_cursor c = vg_cursor_make(msg, len);
    q->id = vg_be16(&c);
    uint16_t flags = vg_be16(&c);
    q->qdcount = vg_be16(&c);
    q->ancount = vg_be16(&c);
    vg_skip(&c, 4);             /* nscount, arcount: not needed */
    if (c.bad || q->qdcount == 0)
        return -1;
    q->is_response = (uint8_t)(flags >> 15);
    q->opcode = (uint8_t)((flags >> 11) & 0xF);
    q->rcode = (uint8_t)(flags & 0xF);
    if (read_name(&c, q) != 0)
        return -1;
    q->qtype = vg_be16(&c);
    q->qclass = vg_be16(&c);
    return c.bad ? -1 : 0;
}

static char printable(uint8_t b)
{
    return (b > 0x20 && b < 0x7F && b != '.' && b != '"' && b != '\\') ? (char)b : '?';
}

size_t dns_format_labels(const struct dns_question *q, unsigned first, char *buf, size_t size)
{
    size_t out = 0;
    if (size == 0)
        return 0;
    for (unsigned i = first; i < q->nlabels; i++) {
        if (i > first && out + 1 < size)
            buf[out++] = '.';
        const uint8_t *l = q->name + q->label_off[i];
        for (unsigned k = 0; k < q->label_len[i] && out + 1 < size; k++)
            buf[out++] = printable(l[k]);
    }
    buf[out] = '\0';
    return out;
}
