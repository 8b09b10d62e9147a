/*
 * match.c - evaluate a rule's payload items (content with its positional
 * modifiers, pcre, isdataat, byte_test/jump/extract, bsize) on one buffer,
 * in rule order, with backtracking over later occurrences of a content or
 * regex when a relative item after it fails (as Snort and Suricata do).
 * The work per evaluation is bounded (MAX_STEPS).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sig.h"

#define MAX_STEPS 4096          /* content/pcre attempts per evaluation */

static inline uint8_t fold(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

const uint8_t *sig_find(const uint8_t *hay, size_t hlen, const uint8_t *pat, size_t plen,
                        int nocase)
{
    if (plen == 0 || plen > hlen)
        return NULL;
    if (!nocase) {
        const uint8_t *p = hay, *last = hay + (hlen - plen);
        while (p <= last) {
            p = memchr(p, pat[0], (size_t)(last - p) + 1);
            if (p == NULL)
                return NULL;
            if (memcmp(p + 1, pat + 1, plen - 1) == 0)
                return p;
            p++;
        }
        return NULL;
    }
    uint8_t first = fold(pat[0]);
    for (size_t i = 0; i + plen <= hlen; i++) {
        if (fold(hay[i]) != first)
            continue;
        size_t k = 1;
        while (k < plen && fold(hay[i + k]) == fold(pat[k]))
            k++;
        if (k == plen)
            return hay + i;
    }
    return NULL;
}

int sig_rule_compile(struct sig_rule *r, char *why, size_t whylen)
{
    for (size_t i = 0; i < r->nsm; i++) {
        struct sig_sm *m = &r->sm[i];
        if (m->type != SM_PCRE || m->re_code)
            continue;
        int err;
        PCRE2_SIZE off;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR)m->re_src, PCRE2_ZERO_TERMINATED,
                                         m->re_opts, &err, &off, NULL);
        if (code == NULL) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(err, msg, sizeof msg);
            snprintf(why, whylen, "pcre /%s/: %s at offset %zu", m->re_src, (const char *)msg,
                     (size_t)off);
            return -1;
        }
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  /* falls back to the interpreter */
        m->re_md = pcre2_match_data_create_from_pattern(code, NULL);
        if (m->re_md == NULL) {
            pcre2_code_free(code);
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        m->re_code = code;
    }
    return 0;
}

/* Release what sig_rule_compile made (sig_rule_free does the rest). */
void sig_rule_release(struct sig_rule *r);
void sig_rule_release(struct sig_rule *r)
{
    for (size_t i = 0; i < r->nsm; i++) {
        if (r->sm[i].re_md)
            pcre2_match_data_free(r->sm[i].re_md);
        if (r->sm[i].re_code)
            pcre2_code_free(r->sm[i].re_code);
        r->sm[i].re_md = r->sm[i].re_code = NULL;
    }
}

/* ---- evaluation ------------------------------------------------------------------ */

struct ev {
    const struct sig_rule *r;
    const struct sig_buf *b;
    int64_t vars[SIG_MAX_VARS];
    int steps;
};

/* Read nbytes at p as a number (binary or string); -1 when it does not parse. */
static int read_number(const struct sig_sm *m, const uint8_t *p, uint64_t *out)
{
    uint64_t v = 0;
    if (m->base == 0) {
        if (m->endian == BY_LITTLE)
            for (uint32_t i = m->nbytes; i > 0; i--)
                v = v << 8 | p[i - 1];
        else
            for (uint32_t i = 0; i < m->nbytes; i++)
                v = v << 8 | p[i];
    } else {
        uint32_t i = 0;
        int digits = 0;
        while (i < m->nbytes && (p[i] == ' ' || p[i] == '\t'))
            i++;
        for (; i < m->nbytes; i++) {
            int d;
            uint8_t c = p[i];
            if (c >= '0' && c <= '9') d = c - '0';
            else if (m->base == BY_HEX && c >= 'a' && c <= 'f') d = c - 'a' + 10;
            else if (m->base == BY_HEX && c >= 'A' && c <= 'F') d = c - 'A' + 10;
            else break;
            if (d >= m->base)
                break;
            v = v * m->base + (uint64_t)d;
            digits++;
        }
        if (digits == 0)
            return -1;
    }
    if (m->bitmask) {
        v &= m->bitmask;
        uint32_t bm = m->bitmask;
        while (bm && !(bm & 1)) {
            bm >>= 1;
            v >>= 1;
        }
    }
    *out = v;
    return 0;
}

static int64_t val_of(const struct ev *e, int32_t lit, int8_t var)
{
    return var >= 0 ? e->vars[var] : lit;
}

static int step(struct ev *e, size_t idx, int64_t cursor, int64_t hi_end);

/* The current stream's HTTP request-line URI (pcre U flag). */
static int request_uri(const uint8_t *d, size_t n, size_t *s, size_t *len)
{
    size_t i = 0;
    while (i < n && i < 16 && d[i] >= 'A' && d[i] <= 'Z')
        i++;
    if (i == 0 || i >= n || d[i] != ' ')
        return -1;
    size_t a = ++i;
    while (i < n && d[i] != ' ' && d[i] != '\r' && d[i] != '\n')
        i++;
    if (i == a)
        return -1;
    *s = a;
    *len = i - a;
    return 0;
}

static int content_step(struct ev *e, size_t idx, const struct sig_sm *m, int64_t cursor,
                        int64_t hi_end)
{
    const struct sig_buf *b = e->b;
    int64_t blen = (int64_t)b->len, base = (int64_t)b->base;
    /* search window [lo, hi) in buffer positions; hi bounds the match end */
    int64_t lo, hi = blen;
    int64_t off = m->pos[POS_OFFSET] != SIG_UNSET || m->pos_var[POS_OFFSET] >= 0
                      ? val_of(e, m->pos[POS_OFFSET], m->pos_var[POS_OFFSET]) : SIG_UNSET;
    int64_t dep = m->pos[POS_DEPTH] != SIG_UNSET || m->pos_var[POS_DEPTH] >= 0
                      ? val_of(e, m->pos[POS_DEPTH], m->pos_var[POS_DEPTH]) : SIG_UNSET;
    int64_t dist = m->pos[POS_DISTANCE] != SIG_UNSET || m->pos_var[POS_DISTANCE] >= 0
                       ? val_of(e, m->pos[POS_DISTANCE], m->pos_var[POS_DISTANCE]) : SIG_UNSET;
    int64_t win = m->pos[POS_WITHIN] != SIG_UNSET || m->pos_var[POS_WITHIN] >= 0
                      ? val_of(e, m->pos[POS_WITHIN], m->pos_var[POS_WITHIN]) : SIG_UNSET;
    if (m->relative) {
        int64_t d = dist != SIG_UNSET ? dist : 0;
        lo = cursor + d;
        if (lo < 0)
            lo = 0;
        if (win != SIG_UNSET && cursor + d + win < hi)
            hi = cursor + d + win;
    } else {
        /* absolute positions count from the start of the stream */
        lo = (off != SIG_UNSET ? off : 0) - base;
        if (m->startswith)
            hi = (int64_t)m->len - base;
        else if (dep != SIG_UNSET)
            hi = (off != SIG_UNSET ? off : 0) + dep - base;
        if (hi > blen)
            hi = blen;
        if (lo < 0) {
            if (base > 0 && (off != SIG_UNSET || dep != SIG_UNSET || m->startswith))
                return 0;       /* the anchored region lies before this window */
            lo = 0;
        }
    }
    if (m->endswith) {
        int64_t s = blen - (int64_t)m->len;
        if (s < lo || blen > hi)
            return m->neg ? step(e, idx + 1, cursor, hi_end) : 0;
        lo = s;
    }
    if (hi - lo < (int64_t)m->len) {
        return m->neg ? step(e, idx + 1, cursor, hi_end) : 0;
    }
    const uint8_t *start = b->data + lo;
    size_t span = (size_t)(hi - lo);
    if (m->neg) {
        if (sig_find(start, span, m->pat, m->len, m->nocase))
            return 0;
        return step(e, idx + 1, cursor, hi_end);
    }
    size_t at = 0;
    while (at + m->len <= span) {
        if (++e->steps > MAX_STEPS)
            return 0;
        const uint8_t *f = sig_find(start + at, span - at, m->pat, m->len, m->nocase);
        if (f == NULL)
            return 0;
        int64_t mend = (int64_t)(f - b->data) + m->len;
        if (step(e, idx + 1, mend, mend > hi_end ? mend : hi_end))
            return 1;
        at = (size_t)(f - start) + 1;
    }
    return 0;
}

static int pcre_step(struct ev *e, size_t idx, const struct sig_sm *m, int64_t cursor,
                     int64_t hi_end)
{
    const struct sig_buf *b = e->b;
    const uint8_t *data = b->data;
    size_t len = b->len, start = 0;
    if (m->re_uri) {
        /* every request line of the buffer: METHOD SP URI SP HTTP/x */
        if (b->base != 0)
            return m->neg ? step(e, idx + 1, cursor, hi_end) : 0;
        int found = 0;
        for (size_t ls = 0; ls < b->len && !found;) {
            size_t us, ul;
            if (request_uri(b->data + ls, b->len - ls, &us, &ul) == 0 &&
                ls + us + ul + 6 <= b->len && memcmp(b->data + ls + us + ul, " HTTP/", 6) == 0) {
                if (++e->steps > MAX_STEPS)
                    return 0;
                found = pcre2_match(m->re_code, b->data + ls + us, ul, 0, 0, m->re_md, NULL) >= 0;
            }
            const uint8_t *nl = memchr(b->data + ls, '\n', b->len - ls);
            if (nl == NULL)
                break;
            ls = (size_t)(nl - b->data) + 1;
        }
        if (found == m->neg)
            return 0;
        return step(e, idx + 1, cursor, hi_end);
    } else if (m->relative) {
        start = (size_t)(cursor < 0 ? 0 : cursor);
        if (start > len)
            return m->neg ? step(e, idx + 1, cursor, hi_end) : 0;
    }
    /* a relative expression sees the buffer from the cursor on (^ anchors there) */
    pcre2_match_data *md = m->re_md;
    size_t from = 0;
    if (m->relative) {
        data += start;
        len -= start;
        from = 0;
    }
    size_t shift = m->relative ? start : 0;
    while (from <= len) {
        if (++e->steps > MAX_STEPS)
            return 0;
        int rc = pcre2_match(m->re_code, data, len, from, 0, md, NULL);
        if (rc < 0)
            return m->neg ? step(e, idx + 1, cursor, hi_end) : 0;
        if (m->neg)
            return 0;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        int64_t mend = (int64_t)(ov[1] + shift);
        size_t next = ov[0] + 1;
        if (step(e, idx + 1, mend, mend > hi_end ? mend : hi_end))
            return 1;
        from = next;
    }
    return 0;
}

static int byte_step(struct ev *e, size_t idx, const struct sig_sm *m, int64_t cursor,
                     int64_t hi_end)
{
    const struct sig_buf *b = e->b;
    int64_t off = val_of(e, m->offset, m->offset_var);
    int64_t at = (m->relative ? cursor : 0) + off;
    if (m->type == SM_BYTE_JUMP && m->from_end)
        at = (int64_t)b->len + off;
    if (at < 0 || at + (int64_t)m->nbytes > (int64_t)b->len)
        return 0;
    uint64_t v;
    if (read_number(m, b->data + at, &v) < 0)
        return 0;
    if (m->type == SM_BYTE_TEST) {
        uint64_t want = m->value_var >= 0 ? (uint64_t)e->vars[m->value_var] : (uint64_t)m->value;
        int ok;
        switch (m->op) {
        case '<': ok = v < want; break;
        case '>': ok = v > want; break;
        case '=': ok = v == want; break;
        case '&': ok = (v & want) != 0; break;
        case '^': ok = (v ^ want) != 0; break;
        case 'l': ok = v <= want; break;
        case 'g': ok = v >= want; break;
        default: ok = 0;
        }
        if (m->op_neg)
            ok = !ok;
        return ok ? step(e, idx + 1, cursor, hi_end) : 0;
    }
    if (m->type == SM_BYTE_EXTRACT) {
        if (m->multiplier)
            v *= m->multiplier;
        if (m->align && v % m->align)
            v += m->align - v % m->align;
        e->vars[m->var] = (int64_t)(v > 0x7fffffff ? 0x7fffffff : v);
        return step(e, idx + 1, at + (int64_t)m->nbytes, hi_end);
    }
    /* byte_jump: the cursor moves to after the bytes read plus the value */
    if (m->multiplier)
        v *= m->multiplier;
    if (v > 0x7fffffff)
        return 0;
    int64_t jump = (int64_t)v;
    if (m->align && jump % m->align)
        jump += m->align - jump % m->align;
    int64_t dest;
    if (m->from_beginning)
        dest = jump;
    else if (m->from_end)
        dest = (int64_t)b->len + jump;
    else
        dest = at + (int64_t)m->nbytes + jump;
    dest += m->post_offset;
    if (dest < 0 || dest > (int64_t)b->len)
        return 0;               /* jumped past the end of the buffer */
    return step(e, idx + 1, dest, hi_end);
}

static int step(struct ev *e, size_t idx, int64_t cursor, int64_t hi_end)
{
    const struct sig_rule *r = e->r;
    if (idx == r->nsm) {
        /* stream: the match must touch bytes not inspected before */
        return hi_end > (int64_t)e->b->fresh || e->b->fresh == 0;
    }
    const struct sig_sm *m = &r->sm[idx];
    switch (m->type) {
    case SM_CONTENT:
        return content_step(e, idx, m, cursor, hi_end);
    case SM_PCRE:
        return pcre_step(e, idx, m, cursor, hi_end);
    case SM_ISDATAAT: {
        int64_t at = (m->relative ? cursor : 0) + val_of(e, m->offset, m->offset_var);
        int has = at >= 0 && at < (int64_t)e->b->len;
        if (has == m->neg)
            return 0;
        return step(e, idx + 1, cursor, hi_end);
    }
    case SM_BYTE_TEST:
    case SM_BYTE_JUMP:
    case SM_BYTE_EXTRACT:
        return byte_step(e, idx, m, cursor, hi_end);
    case SM_BSIZE:
        if (!sig_num_match(&m->num, (int64_t)e->b->len))
            return 0;
        return step(e, idx + 1, cursor, hi_end);
    default:
        return 0;
    }
}

int sig_match_payload(const struct sig_rule *r, const struct sig_buf *b)
{
    struct ev e;
    memset(&e, 0, sizeof e);
    e.r = r;
    e.b = b;
    /* the stream check counts an item-less match as touching the new bytes */
    return step(&e, 0, 0, r->nsm ? 0 : (int64_t)b->len);
}
