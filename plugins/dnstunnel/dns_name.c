/*
 * dns_name.c - registered-domain split and encoding evidence of a name.
 *
 * Without a public suffix list the registered domain is the last two
 * labels, or three under a two-letter country code whose second level is
 * one of the generic words registries use (co.uk, com.au, ...). Tunnels
 * and DGAs register ordinary second-level names, so this is enough to
 * group their queries; a name whose last label cannot be a TLD (digits,
 * over 24 bytes) has no parent at all and is grouped under "".
 */
#include "dns_name.h"

#include <math.h>
#include <string.h>

#define TLD_MAX_LEN 24

static const char *const second_levels[] = {
    "ac", "co", "com", "edu", "gob", "gov", "go", "ltd", "mil", "ne",
    "net", "nic", "nom", "or", "org", "plc", "sch", "gv", "biz", "info",
};

static const uint8_t *label_at(const struct dns_question *q, unsigned i)
{
    return q->name + q->label_off[i];
}

static int is_letter(uint8_t b)
{
    return b >= 'a' && b <= 'z';
}

static int is_digit(uint8_t b)
{
    return b >= '0' && b <= '9';
}

static int plausible_tld(const uint8_t *l, unsigned n)
{
    if (n == 0)
        return 0;
    if (n >= 4 && memcmp(l, "xn--", 4) == 0)
        return n <= 63;
    if (n < 2 || n > TLD_MAX_LEN)
        return 0;
    for (unsigned i = 0; i < n; i++)
        if (!is_letter(l[i]))
            return 0;
    return 1;
}

static int generic_second_level(const uint8_t *l, unsigned n)
{
    for (size_t i = 0; i < sizeof second_levels / sizeof second_levels[0]; i++)
        if (strlen(second_levels[i]) == n && memcmp(second_levels[i], l, n) == 0)
            return 1;
    return 0;
}

void dns_split_name(const struct dns_question *q, struct dns_split *s)
{
    unsigned n = q->nlabels, keep = 2;
    s->sub_labels = 0;
    s->parent_labels = 0;
    if (n == 0)
        return;
    if (!plausible_tld(label_at(q, n - 1), q->label_len[n - 1])) {
        s->sub_labels = (uint8_t)n;
        return;
    }
    if (n >= 3 && q->label_len[n - 1] == 2 &&
        generic_second_level(label_at(q, n - 2), q->label_len[n - 2]))
        keep = 3;
    if (keep > n)
        keep = n;
    s->parent_labels = (uint8_t)keep;
    s->sub_labels = (uint8_t)(n - keep);
}

int dns_is_arpa(const struct dns_question *q)
{
    if (q->nlabels == 0)
        return 0;
    unsigned last = q->nlabels - 1u;
    return q->label_len[last] == 4 && memcmp(label_at(q, last), "arpa", 4) == 0;
}

uint16_t dns_entropy_x100(const uint8_t *p, unsigned n)
{
    unsigned counts[256] = { 0 };
    if (n < 2)
        return 0;
    for (unsigned i = 0; i < n; i++)
        counts[p[i]]++;
    double sum = 0.0;
    for (unsigned b = 0; b < 256; b++)
        if (counts[b])
            sum += counts[b] * log2((double)counts[b]);
    double h = log2((double)n) - sum / n;
    return (uint16_t)(h * 100.0 + 0.5);
}

static int is_ldh(uint8_t b)
{
    return is_letter(b) || is_digit(b) || b == '-' || b == '_';
}

void dns_sub_stats(const struct dns_question *q, unsigned sub_labels, struct dns_sub_stats *st)
{
    memset(st, 0, sizeof *st);
    if (sub_labels == 0)
        return;
    /* The subdomain's labels are contiguous at the start of q->name. */
    unsigned bytes = (unsigned)q->label_off[sub_labels - 1] + q->label_len[sub_labels - 1];
    for (unsigned i = 0; i < sub_labels; i++)
        if (q->label_len[i] > st->longest_label)
            st->longest_label = q->label_len[i];
    for (unsigned i = 0; i < bytes; i++)
        st->non_ldh += !is_ldh(q->name[i]);
    st->sub_bytes = (uint16_t)bytes;
    st->entropy_x100 = dns_entropy_x100(q->name, bytes);
}

static int is_vowel(uint8_t b)
{
    return b == 'a' || b == 'e' || b == 'i' || b == 'o' || b == 'u' || b == 'y';
}

int dns_label_looks_random(const uint8_t *l, unsigned n, unsigned min_len)
{
    if (n < min_len || n == 0)
        return 0;
    unsigned vowels = 0, digits = 0, letters = 0, run = 0, longest_run = 0;
    for (unsigned i = 0; i < n; i++) {
        uint8_t b = l[i];
        digits += is_digit(b);
        letters += is_letter(b);
        vowels += is_vowel(b);
        run = (is_letter(b) && !is_vowel(b)) ? run + 1 : 0;
        if (run > longest_run)
            longest_run = run;
    }
    unsigned signs = 0;
    signs += letters > 0 && vowels * 100 < letters * 22;   /* English: ~40 % */
    signs += longest_run >= 5;
    signs += letters > 0 && digits > 0 && digits * 100 >= n * 15 && letters * 100 >= n * 15;
    signs += dns_entropy_x100(l, n) >= 350;
    return signs >= 2;
}

uint64_t dns_hash_labels(const struct dns_question *q, unsigned first, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (unsigned i = first; i < q->nlabels; i++) {
        const uint8_t *l = label_at(q, i);
        h = (h ^ (uint64_t)(q->label_len[i] + 0x100u)) * 0x100000001b3ULL;
        for (unsigned k = 0; k < q->label_len[i]; k++)
            h = (h ^ l[k]) * 0x100000001b3ULL;
    }
    return h;
}
