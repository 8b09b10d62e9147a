/*
 * bare_nids.c - the floor for TCP reassembly: libnids fed by a plain
 * libpcap loop, with nothing else on top.
 *
 *   build/tools/bare_nids FILE [N_TCP_STREAMS]
 *
 * Same recipe as the sensor: our own pcap_dispatch loop strips Ethernet and
 * any number of VLAN tags, and hands IPv4 only to nids_pcap_handler()
 * against a pcap_open_dead(DLT_RAW) handle. Checksums are not verified and
 * the built-in scan detector is off. The TCP callback collects both
 * directions and reads every reassembled byte. N_TCP_STREAMS defaults to
 * 1 << 18. Prints
 * `packets=N bytes=B streams=S stream_bytes=X evicted=E`.
 */
#include <nids.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t g_packets, g_bytes, g_streams, g_stream_bytes, g_evicted, g_touch;

static void on_tcp(struct tcp_stream *s, void **param)
{
    struct half_stream *h;
    int i;

    (void)param;
    switch (s->nids_state) {
    case NIDS_JUST_EST:
        s->client.collect++;
        s->server.collect++;
        g_streams++;
        break;
    case NIDS_DATA:
        h = s->server.count_new ? &s->server : &s->client;
        for (i = 0; i < h->count_new; i++)
            g_touch += (unsigned char)h->data[i];
        g_stream_bytes += (uint64_t)h->count_new;
        break;
    case NIDS_TIMED_OUT:
        g_evicted++;
        break;
    default:
        break;
    }
}

static void on_warning(int type, int err, struct ip *iph, void *data)
{
    (void)type;
    (void)err;
    (void)iph;
    (void)data;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *d)
{
    struct pcap_pkthdr h2;
    bpf_u_int32 off = 12;
    unsigned type;

    (void)user;
    g_packets++;
    g_bytes += h->len;
    if (h->caplen < 14)
        return;
    type = (unsigned)d[12] << 8 | d[13];
    while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
        off += 4;
        if (h->caplen < off + 2)
            return;
        type = (unsigned)d[off] << 8 | d[off + 1];
    }
    off += 2;
    if (type != 0x0800)
        return;
    h2 = *h;
    h2.caplen -= off;
    h2.len = h->len > off ? h->len - off : 0;
    /* libnids may rewrite IPv4 option bytes in place; the buffer is ours. */
    nids_pcap_handler(NULL, &h2, (u_char *)(uintptr_t)(d + off));
}

int main(int argc, char **argv)
{
    static struct nids_chksum_ctl no_checksums[1] = { { 0, 0, NIDS_DONT_CHKSUM, 0 } };
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *in, *dead;
    int rc;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s FILE [N_TCP_STREAMS]\n", argv[0]);
        return 2;
    }
    nids_params.n_tcp_streams = argc == 3 ? atoi(argv[2]) : 1 << 18;
    if (nids_params.n_tcp_streams <= 0) {
        fprintf(stderr, "bare_nids: bad N_TCP_STREAMS '%s'\n", argv[2]);
        return 2;
    }
    in = pcap_open_offline(argv[1], errbuf);
    if (!in) {
        fprintf(stderr, "bare_nids: %s\n", errbuf);
        return 1;
    }
    if (pcap_datalink(in) != DLT_EN10MB) {
        fprintf(stderr, "bare_nids: %s: only Ethernet captures are supported\n", argv[1]);
        pcap_close(in);
        return 1;
    }
    dead = pcap_open_dead(DLT_RAW, 262144);
    if (!dead) {
        fprintf(stderr, "bare_nids: pcap_open_dead failed\n");
        pcap_close(in);
        return 1;
    }
    nids_params.pcap_desc = dead;
    nids_params.syslog = on_warning;
    nids_params.scan_num_hosts = 0;
    if (!nids_init()) {
        fprintf(stderr, "bare_nids: nids_init: %s\n", nids_errbuf);
        return 1;
    }
    nids_register_chksum_ctl(no_checksums, 1);
    nids_register_tcp(on_tcp);
    while ((rc = pcap_dispatch(in, 4096, on_packet, NULL)) > 0)
        ;
    if (rc == PCAP_ERROR)
        fprintf(stderr, "bare_nids: %s\n", pcap_geterr(in));
    nids_exit();
    pcap_close(dead);
    pcap_close(in);
    printf("packets=%llu bytes=%llu streams=%llu stream_bytes=%llu evicted=%llu\n",
           (unsigned long long)g_packets, (unsigned long long)g_bytes,
           (unsigned long long)g_streams, (unsigned long long)g_stream_bytes,
           (unsigned long long)g_evicted);
    if (g_touch == 1)
        fputc('\n', stderr);
    return rc == PCAP_ERROR;
}
