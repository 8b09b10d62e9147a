/*
 * dns_name.h - what a query name says: where its registered ("parent")
 * domain starts, and how much the part before it looks like encoded data.
 */
#ifndef DNSTUNNEL_DNS_NAME_H
#define DNSTUNNEL_DNS_NAME_H

#include <stdint.h>

#include "dns_parse.h"

/* Labels [0, sub_labels) form the subdomain, the rest the parent domain.
 * parent_labels is 0 when the last label cannot be a top-level domain
 * (digits, too long: the whole name is payload). */
struct dns_split {
    uint8_t sub_labels;
    uint8_t parent_labels;
};

/* Evidence about the subdomain part. */
struct dns_sub_stats {
    uint16_t sub_bytes;         /* label bytes, separators excluded */
    uint16_t longest_label;
    uint16_t entropy_x100;      /* Shannon entropy, bits per byte x 100 */
    uint16_t non_ldh;           /* bytes outside [a-z0-9-_] */
};

void dns_split_name(const struct dns_question *q, struct dns_split *s);

/* 1 when the name's top-level domain is "arpa" (reverse lookups). */
int dns_is_arpa(const struct dns_question *q);

void dns_sub_stats(const struct dns_question *q, unsigned sub_labels, struct dns_sub_stats *st);

/* Shannon entropy of n bytes in bits per byte, x 100. */
uint16_t dns_entropy_x100(const uint8_t *p, unsigned n);

/* 1 when one label (the registered name of a domain, say) looks machine
 * generated: long enough, and at least two of few vowels, a long
 * consonant run, letters mixed with digits, high entropy. */
int dns_label_looks_random(const uint8_t *l, unsigned n, unsigned min_len);

/* 64-bit FNV-1a over labels [first, nlabels), a separator between labels. */
uint64_t dns_hash_labels(const struct dns_question *q, unsigned first, uint64_t seed);

#endif
