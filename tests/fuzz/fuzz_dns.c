/*
 * fuzz_dns.c - the dnstunnel plugin's DNS question parser and name
 * analysis on arbitrary bytes. The sources are included so the target
 * builds with no extra objects.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"

#include "../../plugins/dnstunnel/dns_name.c"
#include "../../plugins/dnstunnel/dns_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dns_question q;
    if (dns_parse_question(data, size, &q) != 0)
        return 0;
    struct dns_split split;
    dns_split_name(&q, &split);
    struct dns_sub_stats st;
    dns_sub_stats(&q, split.sub_labels, &st);
    char text[DNS_MAX_WIRE_NAME + 1];
    dns_format_labels(&q, split.sub_labels, text, sizeof text);
    dns_format_labels(&q, 0, text, sizeof text);
    if (split.parent_labels > 0) {
        unsigned reg = split.sub_labels;
        (void)dns_label_looks_random(q.name + q.label_off[reg], q.label_len[reg], 8);
    }
    (void)dns_is_arpa(&q);
    (void)dns_hash_labels(&q, 0, 0);
    return 0;
}
