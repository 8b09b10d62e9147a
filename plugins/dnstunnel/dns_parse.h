/*
 * dns_parse.h - the header and first question of a DNS message.
 *
 * Input is hostile: every read is bounds-checked, the name is capped at
 * the 255 bytes RFC 1035 allows on the wire, and compression pointers are
 * followed only backwards and at most DNS_MAX_HOPS times, so a loop or a
 * pointer past the end is an error rather than a hang or an overread.
 */
#ifndef DNSTUNNEL_DNS_PARSE_H
#define DNSTUNNEL_DNS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_MAX_WIRE_NAME 255   /* length bytes + label bytes + root */
#define DNS_MAX_LABELS 127
#define DNS_MAX_HOPS 16

enum {
    DNS_RCODE_NXDOMAIN = 3,
    DNS_TYPE_A = 1,
    DNS_TYPE_NS = 2,
    DNS_TYPE_CNAME = 5,
    DNS_TYPE_NULL = 10,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_MX = 15,
    DNS_TYPE_TXT = 16,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_SRV = 33,
    DNS_TYPE_ANY = 255,
};

/* The first question. Label bytes are lowercased (ASCII only) and stored
 * back to back without separators; label_off/label_len locate each one,
 * so a '.' byte inside a label cannot be mistaken for a separator. */
struct dns_question {
    uint16_t id;
    uint8_t is_response;
    uint8_t opcode;
    uint8_t rcode;
    uint16_t qdcount, ancount;
    uint16_t qtype, qclass;
    uint8_t nlabels;
    uint16_t name_bytes;        /* label bytes, separators excluded */
    uint8_t label_off[DNS_MAX_LABELS];
    uint8_t label_len[DNS_MAX_LABELS];
    uint8_t name[DNS_MAX_WIRE_NAME];
};

/* 0 when msg holds a header and one complete question, -1 otherwise. */
int dns_parse_question(const uint8_t *msg, size_t len, struct dns_question *q);

/* Labels [first, nlabels) as printable text ("a.b.c"): bytes outside
 * printable ASCII, and dots inside labels, become '?'. Truncated to fit
 * `size` (always terminated when size > 0). Returns the length written. */
size_t dns_format_labels(const struct dns_question *q, unsigned first, char *buf, size_t size);

#endif
