/*
 * bare_pcap.c - the floor for a capture reader: a plain libpcap loop.
 *
 *   build/tools/bare_pcap FILE
 *
 * Reads every packet with pcap_dispatch, touches one byte in every 64 so
 * the data really leaves the page cache, and prints
 * `packets=N bytes=B` (B = wire bytes, the len of each record).
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

struct totals {
    uint64_t packets;
    uint64_t bytes;
    uint64_t touch;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct totals *t = (struct totals *)user;
    bpf_u_int32 i;

    t->packets++;
    t->bytes += h->len;
    for (i = 0; i < h->caplen; i += 64)
        t->touch += data[i];
}

int main(int argc, char **argv)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    struct totals t = { 0, 0, 0 };
    pcap_t *p;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    p = pcap_open_offline(argv[1], errbuf);
    if (!p) {
        fprintf(stderr, "bare_pcap: %s\n", errbuf);
        return 1;
    }
    while ((rc = pcap_dispatch(p, 4096, on_packet, (u_char *)&t)) > 0)
        ;
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "bare_pcap: %s\n", pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    pcap_close(p);
    printf("packets=%llu bytes=%llu\n", (unsigned long long)t.packets,
           (unsigned long long)t.bytes);
    /* Keeps the byte reads from being optimised away. */
    if (t.touch == 1)
        fputc('\n', stderr);
    return 0;
}
