/* test_embryo.c - TCP handshakes held back until they complete. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "decode.h"
#include "embryo.h"

#define SYN VIGIL_TCP_SYN
#define ACK VIGIL_TCP_ACK
#define RST VIGIL_TCP_RST
#define PSH VIGIL_TCP_PSH

#define CLIENT 0
#define SERVER 1

static const uint8_t g_key[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* One decoded packet and the bytes it points into. */
struct pkt {
    uint8_t buf[256];
    vigil_packet p;
};

/*
 * Client 198.18.(c >> 8).(c & 0xff):cport <-> server 198.19.0.2:80.
 * `opts` bytes of TCP options (NOPs), `payload` bytes of data.
 */
static void build(struct pkt *k, int from, uint16_t c, uint16_t cport, uint32_t seq,
                  uint32_t ack, uint8_t flags, size_t opts, size_t payload, int64_t ts)
{
    uint8_t *b = k->buf;
    size_t tot = 20 + 20 + opts + payload;
    memset(b, 0, sizeof k->buf);
    b[0] = 0x45;
    b[2] = (uint8_t)(tot >> 8), b[3] = (uint8_t)tot;
    b[8] = 64;
    b[9] = 6;
    uint8_t cli[4] = { 198, 18, (uint8_t)(c >> 8), (uint8_t)c }, srv[4] = { 198, 19, 0, 2 };
    memcpy(b + 12, from == CLIENT ? cli : srv, 4);
    memcpy(b + 16, from == CLIENT ? srv : cli, 4);
    uint8_t *t = b + 20;
    uint16_t sp = from == CLIENT ? cport : 80, dp = from == CLIENT ? 80 : cport;
    t[0] = (uint8_t)(sp >> 8), t[1] = (uint8_t)sp;
    t[2] = (uint8_t)(dp >> 8), t[3] = (uint8_t)dp;
    for (int i = 0; i < 4; i++) {
        t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    t[12] = (uint8_t)((5 + opts / 4) << 4);
    t[13] = flags;
    t[14] = 0xff, t[15] = 0xff;
    memset(t + 20, 1, opts);
    memset(t + 20 + opts, 'x', payload);
    enum vigil_decode_event ev;
    assert_int_equal(vigil_decode(12 /* DLT_RAW */, b, (uint32_t)tot, (uint32_t)tot, &k->p, &ev),
                     VIGIL_DECODE_OK);
    k->p.ts_us = ts;
}

static enum vigil_embryo_verdict tx(struct vigil_embryo *t, int from, uint16_t c,
                                      uint32_t seq, uint32_t ack, uint8_t flags, int64_t ts,
                                      struct vigil_embryo_release *rel)
{
    struct pkt k;
    build(&k, from, c, 40000, seq, ack, flags, 0, 0, ts);
    return vigil_embryo_packet(t, &k.p, 0, rel);
}

static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Sequence number of a held segment (IPv4 header of 20 bytes). */
static uint32_t seq_of(const struct vigil_embryo_segment *s)
{
    return be32_at(s->bytes + 20 + 4);
}

static void assert_balanced(const struct vigil_embryo_counts *n, const struct vigil_embryo *t)
{
    assert_int_equal(n->held, n->completed + n->evicted + n->expired + n->reset + n->pending);
    assert_int_equal(n->pending, vigil_embryo_count(t));
}

static void test_hold_then_release_in_order(void **state)
{
    (void)state;
    struct vigil_embryo_counts n = { 0 };
    struct vigil_embryo *t = vigil_embryo_new(64, g_key, &n);
    struct vigil_embryo_release rel;
    struct pkt syn;
    build(&syn, CLIENT, 1, 40000, 1000, 0, SYN, 8, 5, 100);  /* options and 5 data bytes */
    assert_int_equal(vigil_embryo_packet(t, &syn.p, 0, &rel), VIGIL_EMBRYO_HOLD);
    assert_int_equal(vigil_embryo_count(t), 1);
    assert_int_equal(tx(t, SERVER, 1, 5000, 1001, SYN | ACK, 200, &rel), VIGIL_EMBRYO_HOLD);
    /* Server data or a client packet acking something else: not the end. */
    assert_int_equal(tx(t, SERVER, 1, 5001, 1001, ACK, 250, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(tx(t, CLIENT, 1, 1001, 4242, ACK, 260, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(n.pending, 1);
    assert_int_equal(tx(t, CLIENT, 1, 1001, 5001, ACK, 300, &rel), VIGIL_EMBRYO_RELEASE);
    /* The SYN: its headers (20 + 28 bytes), payload gone, length field fixed. */
    assert_int_equal(rel.syn.len, 48);
    assert_int_equal(rel.syn.ts_us, 100);
    assert_int_equal(rel.syn.bytes[2] << 8 | rel.syn.bytes[3], 48);
    assert_memory_equal(rel.syn.bytes + 4, syn.buf + 4, 44);
    assert_int_equal(seq_of(&rel.syn), 1000);
    assert_int_equal(rel.synack.len, 40);
    assert_int_equal(rel.synack.ts_us, 200);
    assert_int_equal(seq_of(&rel.synack), 5000);
    assert_int_equal(rel.synack.bytes[20 + 13], SYN | ACK);
    assert_int_equal(n.held, 1);
    assert_int_equal(n.completed, 1);
    assert_int_equal(vigil_embryo_count(t), 0);
    /* Afterwards the connection is libnids' business. */
    assert_int_equal(tx(t, CLIENT, 1, 1001, 5001, ACK | PSH, 400, &rel), VIGIL_EMBRYO_PASS);
    assert_balanced(&n, t);
    vigil_embryo_free(t);
}

static void test_retransmitted_syn(void **state)
{
    (void)state;
    struct vigil_embryo_counts n = { 0 };
    struct vigil_embryo *t = vigil_embryo_new(64, g_key, &n);
    struct vigil_embryo_release rel;
    assert_int_equal(tx(t, CLIENT, 1, 1000, 0, SYN, 0, &rel), VIGIL_EMBRYO_HOLD);
    assert_int_equal(tx(t, CLIENT, 1, 1000, 0, SYN, 1000000, &rel), VIGIL_EMBRYO_HOLD);
    assert_int_equal(tx(t, SERVER, 1, 5000, 1001, SYN | ACK, 1100000, &rel), VIGIL_EMBRYO_HOLD);
    /* Same sequence number: the SYN-ACK still stands. */
    assert_int_equal(tx(t, CLIENT, 1, 1000, 0, SYN, 1200000, &rel), VIGIL_EMBRYO_HOLD);
    /* A repeated SYN-ACK is dropped (libnids keeps the first one). */
    assert_int_equal(tx(t, SERVER, 1, 6000, 1001, SYN | ACK, 1300000, &rel), VIGIL_EMBRYO_HOLD);
    assert_int_equal(tx(t, CLIENT, 1, 1001, 6001, ACK, 1400000, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(tx(t, CLIENT, 1, 1001, 5001, ACK, 1500000, &rel), VIGIL_EMBRYO_RELEASE);
    assert_int_equal(rel.syn.ts_us, 1200000);   /* the latest copy */
    assert_int_equal(seq_of(&rel.synack), 5000);
    assert_int_equal(n.held, 1);

    /* Another sequence number: the old SYN-ACK acknowledged the old SYN. */
    assert_int_equal(tx(t, CLIENT, 2, 1000, 0, SYN, 2000000, &rel), VIGIL_EMBRYO_HOLD);
    assert_int_equal(tx(t, SERVER, 2, 5000, 1001, SYN | ACK, 2100000, &rel), VIGIL_EMBRYO_HOLD);
    assert_int_equal(tx(t, CLIENT, 2, 7000, 0, SYN, 2200000, &rel), VIGIL_EMBRYO_HOLD);
    assert_int_equal(tx(t, CLIENT, 2, 1001, 5001, ACK, 2300000, &rel), VIGIL_EMBRYO_PASS);
    /* A SYN-ACK for the old SYN is no longer held; one for the new is. */
    assert_int_equal(tx(t, SERVER, 2, 5000, 1001, SYN | ACK, 2400000, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(tx(t, SERVER, 2, 8000, 7001, SYN | ACK, 2500000, &rel), VIGIL_EMBRYO_HOLD);
    assert_int_equal(tx(t, CLIENT, 2, 7001, 8001, ACK, 2600000, &rel), VIGIL_EMBRYO_RELEASE);
    assert_int_equal(seq_of(&rel.syn), 7000);
    assert_int_equal(seq_of(&rel.synack), 8000);
    assert_int_equal(n.held, 2);
    assert_int_equal(n.completed, 2);
    assert_balanced(&n, t);
    vigil_embryo_free(t);
}

static void test_server_syn_and_tracked(void **state)
{
    (void)state;
    struct vigil_embryo_counts n = { 0 };
    struct vigil_embryo *t = vigil_embryo_new(64, g_key, &n);
    struct vigil_embryo_release rel;
    struct pkt k;
    /* A connection libnids follows already: its SYN passes. */
    build(&k, CLIENT, 3, 40000, 1000, 0, SYN, 0, 0, 0);
    assert_int_equal(vigil_embryo_packet(t, &k.p, 1, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(n.held, 0);
    /* A SYN-ACK, data or RST without a pending SYN passes. */
    assert_int_equal(tx(t, SERVER, 3, 5000, 1001, SYN | ACK, 0, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(tx(t, CLIENT, 3, 1001, 5001, ACK, 0, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(tx(t, SERVER, 3, 0, 1001, RST | ACK, 0, &rel), VIGIL_EMBRYO_PASS);
    /* The server's own SYN on a pending connection is swallowed. */
    assert_int_equal(tx(t, CLIENT, 3, 1000, 0, SYN, 0, &rel), VIGIL_EMBRYO_HOLD);
    assert_int_equal(tx(t, SERVER, 3, 5000, 0, SYN, 0, &rel), VIGIL_EMBRYO_HOLD);
    /* A SYN-ACK from the client's side is not the server's answer. */
    assert_int_equal(tx(t, CLIENT, 3, 5000, 1001, SYN | ACK, 0, &rel), VIGIL_EMBRYO_PASS);
    /* SYN with RST is not a client SYN. */
    assert_int_equal(tx(t, CLIENT, 4, 1000, 0, SYN | RST, 0, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(n.held, 1);
    assert_balanced(&n, t);
    vigil_embryo_free(t);
}

static void test_rst(void **state)
{
    (void)state;
    struct vigil_embryo_counts n = { 0 };
    struct vigil_embryo *t = vigil_embryo_new(64, g_key, &n);
    struct vigil_embryo_release rel;
    /* Closed port: RST+ACK acknowledging the SYN. */
    tx(t, CLIENT, 1, 1000, 0, SYN, 0, &rel);
    assert_int_equal(tx(t, SERVER, 1, 0, 1001, RST | ACK, 10, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(n.reset, 1);
    assert_int_equal(vigil_embryo_count(t), 0);
    /* A blind RST (wrong ack, or no ACK) leaves the handshake alone. */
    tx(t, CLIENT, 2, 1000, 0, SYN, 0, &rel);
    tx(t, SERVER, 2, 5000, 1001, SYN | ACK, 0, &rel);
    assert_int_equal(tx(t, SERVER, 2, 5001, 999, RST | ACK, 10, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(tx(t, SERVER, 2, 5001, 1001, RST, 10, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(tx(t, CLIENT, 2, 1234, 0, RST, 10, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(n.reset, 1);
    assert_int_equal(tx(t, CLIENT, 2, 1001, 5001, ACK, 20, &rel), VIGIL_EMBRYO_RELEASE);
    /* The client aborts after the SYN-ACK (what a SYN scan's host does). */
    tx(t, CLIENT, 3, 1000, 0, SYN, 0, &rel);
    tx(t, SERVER, 3, 5000, 1001, SYN | ACK, 0, &rel);
    assert_int_equal(tx(t, CLIENT, 3, 1001, 0, RST, 10, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(tx(t, CLIENT, 3, 1001, 5001, ACK, 20, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(n.reset, 2);
    assert_int_equal(n.completed, 1);
    assert_balanced(&n, t);
    vigil_embryo_free(t);
}

/* The same packets give the same verdicts whatever the hash key. */
static void run_flood(const uint8_t *key, struct vigil_embryo_counts *n, uint8_t *verdicts,
                      size_t nverdicts)
{
    struct vigil_embryo *t = vigil_embryo_new(100, key, n);
    struct vigil_embryo_release rel;
    size_t v = 0;
    for (uint16_t c = 0; c < 1000; c++) {
        verdicts[v++] = (uint8_t)tx(t, CLIENT, c, 1000, 0, SYN, c, &rel);
        if (c % 3 == 0)
            verdicts[v++] = (uint8_t)tx(t, SERVER, c, 5000, 1001, SYN | ACK, c, &rel);
        /* Complete a handshake started 50 and 150 SYNs ago: the first is
         * still pending, the second was evicted. */
        if (c >= 150 && c % 3 == 0) {
            verdicts[v++] = (uint8_t)tx(t, CLIENT, (uint16_t)(c - 51), 1001, 5001, ACK, c, &rel);
            verdicts[v++] = (uint8_t)tx(t, CLIENT, (uint16_t)(c - 150), 1001, 5001, ACK, c, &rel);
        }
    }
    assert_true(v <= nverdicts);
    assert_int_equal(vigil_embryo_count(t), 99);   /* full, less the last completion */
    assert_balanced(n, t);
    vigil_embryo_free(t);
}

static void test_eviction_at_cap(void **state)
{
    (void)state;
    static uint8_t a[4096], b[4096];
    struct vigil_embryo_counts na = { 0 }, nb = { 0 };
    static const uint8_t other_key[16] = { 0xde, 0xad, 0xbe, 0xef };
    run_flood(g_key, &na, a, sizeof a);
    run_flood(other_key, &nb, b, sizeof b);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(&na, &nb, sizeof na);
    assert_int_equal(na.held, 1000);
    assert_int_equal(na.completed, 284);    /* c = 150, 153, ..., 999 */
    assert_int_equal(na.evicted, 1000 - 99 - 284);

    /* Activity protects: the oldest entry, touched by a new SYN-ACK, outlives
     * newer idle ones. */
    struct vigil_embryo_counts n = { 0 };
    struct vigil_embryo *t = vigil_embryo_new(16, g_key, &n);
    struct vigil_embryo_release rel;
    for (uint16_t c = 0; c < 16; c++)
        tx(t, CLIENT, c, 1000, 0, SYN, c, &rel);
    tx(t, SERVER, 0, 5000, 1001, SYN | ACK, 16, &rel);
    for (uint16_t c = 100; c < 115; c++)
        tx(t, CLIENT, c, 1000, 0, SYN, c, &rel);
    assert_int_equal(n.evicted, 15);
    assert_int_equal(tx(t, CLIENT, 0, 1001, 5001, ACK, 200, &rel), VIGIL_EMBRYO_RELEASE);
    assert_balanced(&n, t);
    vigil_embryo_free(t);
}

static void test_expiry_by_packet_time(void **state)
{
    (void)state;
    struct vigil_embryo_counts n = { 0 };
    struct vigil_embryo *t = vigil_embryo_new(64, g_key, &n);
    struct vigil_embryo_release rel;
    const int64_t s = 1000000;
    tx(t, CLIENT, 1, 1000, 0, SYN, 0, &rel);
    tx(t, CLIENT, 2, 1000, 0, SYN, 10 * s, &rel);
    tx(t, SERVER, 2, 5000, 1001, SYN | ACK, 20 * s, &rel);
    /* Any packet advances the clock; time going back expires nothing. */
    struct pkt k;
    build(&k, CLIENT, 9, 9, 1, 1, ACK, 0, 0, 5 * s);
    vigil_embryo_packet(t, &k.p, 0, &rel);
    assert_int_equal(n.expired, 0);
    build(&k, CLIENT, 9, 9, 1, 1, ACK, 0, 0, 30 * s - 1);
    vigil_embryo_packet(t, &k.p, 0, &rel);
    assert_int_equal(n.expired, 0);
    build(&k, CLIENT, 9, 9, 1, 1, ACK, 0, 0, 30 * s);
    vigil_embryo_packet(t, &k.p, 0, &rel);
    assert_int_equal(n.expired, 1);
    /* The SYN-ACK at 20 s keeps the second alive until 50 s. */
    assert_int_equal(tx(t, CLIENT, 1, 1001, 5001, ACK, 49 * s, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(tx(t, CLIENT, 2, 1001, 5001, ACK, 49 * s, &rel), VIGIL_EMBRYO_RELEASE);
    tx(t, CLIENT, 3, 1000, 0, SYN, 50 * s, &rel);
    assert_int_equal(tx(t, SERVER, 3, 5000, 1001, SYN | ACK, 80 * s, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(n.expired, 2);
    /* A far future or past timestamp does not overflow. */
    build(&k, CLIENT, 9, 9, 1, 1, ACK, 0, 0, INT64_MIN);
    vigil_embryo_packet(t, &k.p, 0, &rel);
    tx(t, CLIENT, 4, 1000, 0, SYN, INT64_MIN, &rel);
    build(&k, CLIENT, 9, 9, 1, 1, ACK, 0, 0, INT64_MAX);
    vigil_embryo_packet(t, &k.p, 0, &rel);
    assert_int_equal(n.expired, 3);
    assert_balanced(&n, t);
    vigil_embryo_free(t);
}

/* Packets whose fields and bytes disagree (the decoder never makes them,
 * but the table must not trust them): never held, never read past. */
static void test_hostile_input(void **state)
{
    (void)state;
    struct vigil_embryo_counts n = { 0 };
    struct vigil_embryo *t = vigil_embryo_new(16, g_key, &n);
    struct vigil_embryo_release rel;
    struct pkt k;
    build(&k, CLIENT, 1, 40000, 1000, 0, SYN, 0, 0, 0);
    for (uint32_t len = 0; len < 40; len++) {   /* tiny */
        k.p.l3_len = len;
        assert_int_equal(vigil_embryo_packet(t, &k.p, 0, &rel), VIGIL_EMBRYO_PASS);
    }
    k.p.l3_len = 40;
    static const uint8_t bad_ip[] = { 0x44, 0x40, 0x4f, 0x46, 0x35 };  /* IHL 16 / 60 / version */
    for (size_t i = 0; i < sizeof bad_ip; i++) {
        k.buf[0] = bad_ip[i];
        assert_int_equal(vigil_embryo_packet(t, &k.p, 0, &rel), VIGIL_EMBRYO_PASS);
    }
    k.buf[0] = 0x45;
    static const uint8_t bad_doff[] = { 0x00, 0x40, 0x60, 0xf0 };  /* < 20 or past the end */
    for (size_t i = 0; i < sizeof bad_doff; i++) {
        k.buf[32] = bad_doff[i];
        assert_int_equal(vigil_embryo_packet(t, &k.p, 0, &rel), VIGIL_EMBRYO_PASS);
    }
    k.buf[32] = 0x50;
    /* Not for the table: fragments, no L4, other protocols, IPv6, no header. */
    vigil_packet keep = k.p;
    k.p.flags |= VIGIL_PKT_FRAGMENT;
    assert_int_equal(vigil_embryo_packet(t, &k.p, 0, &rel), VIGIL_EMBRYO_PASS);
    k.p = keep;
    k.p.flags &= ~(uint32_t)VIGIL_PKT_HAS_L4;
    assert_int_equal(vigil_embryo_packet(t, &k.p, 0, &rel), VIGIL_EMBRYO_PASS);
    k.p = keep;
    k.p.ip_proto = 17;
    assert_int_equal(vigil_embryo_packet(t, &k.p, 0, &rel), VIGIL_EMBRYO_PASS);
    k.p = keep;
    k.p.l3 = VIGIL_L3_IPV6;
    assert_int_equal(vigil_embryo_packet(t, &k.p, 0, &rel), VIGIL_EMBRYO_PASS);
    k.p = keep;
    k.p.l3_hdr = NULL;
    assert_int_equal(vigil_embryo_packet(t, &k.p, 0, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(n.held, 0);
    /* The largest headers fit: 60-byte IPv4 header, 60-byte TCP header. */
    k.p = keep;
    k.buf[0] = 0x4f;
    k.buf[2] = 0, k.buf[3] = 140;
    k.buf[60 + 12] = 0xf0;
    k.p.l3_len = 140;
    assert_int_equal(vigil_embryo_packet(t, &k.p, 0, &rel), VIGIL_EMBRYO_HOLD);
    /* A bad retransmission does not replace the good copy. */
    k.buf[60 + 12] = 0x10;
    assert_int_equal(vigil_embryo_packet(t, &k.p, 0, &rel), VIGIL_EMBRYO_PASS);
    assert_int_equal(tx(t, SERVER, 1, 5000, 1001, SYN | ACK, 0, &rel), VIGIL_EMBRYO_HOLD);
    assert_int_equal(tx(t, CLIENT, 1, 1001, 5001, ACK, 0, &rel), VIGIL_EMBRYO_RELEASE);
    assert_int_equal(rel.syn.len, 120);
    assert_int_equal(rel.syn.bytes[3], 120);
    /* No table for nothing, or for an absurd size. */
    assert_null(vigil_embryo_new(0, g_key, &n));
    assert_null(vigil_embryo_new((size_t)1 << 40, g_key, &n));
    /* A random key works as well. */
    struct vigil_embryo *r = vigil_embryo_new(16, NULL, &n);
    assert_non_null(r);
    vigil_embryo_free(r);
    vigil_embryo_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_then_release_in_order),
        cmocka_unit_test(test_retransmitted_syn),
        cmocka_unit_test(test_server_syn_and_tracked),
        cmocka_unit_test(test_rst),
        cmocka_unit_test(test_eviction_at_cap),
        cmocka_unit_test(test_expiry_by_packet_time),
        cmocka_unit_test(test_hostile_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
