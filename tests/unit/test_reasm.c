/*
 * test_reasm.c - libnids behind reasm.c, fed by our decoder.
 * libnids is one instance per process, so this binary opens it once and
 * runs its cases in order on disjoint addresses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "reasm.h"
#include "stats.h"

#define MAX_EVENTS 4096

struct seen {
    uint32_t event, dir, len;
    uint64_t offset;
    char data[64];
    uint16_t client_port;
};

static struct {
    struct seen ev[MAX_EVENTS];
    size_t n;
} g_seen;

static struct vigil_stats g_stats;

static void on_event(void *user, const vigil_stream *st, void **slot)
{
    (void)user;
    (void)slot;
    if (g_seen.n >= MAX_EVENTS)
        return;
    struct seen *s = &g_seen.ev[g_seen.n++];
    memset(s, 0, sizeof *s);
    s->event = st->event;
    s->dir = st->dir;
    s->len = st->len;
    s->offset = st->offset;
    s->client_port = st->client_port;
    if (st->data && st->len < sizeof s->data)
        memcpy(s->data, st->data, st->len);
}

/* Build a raw IPv4/TCP datagram; checksums are left zero (libnids is told
 * not to verify them, as on an offloading tap). */
static size_t build_tcp(uint8_t *b, uint8_t c3, uint8_t s3, uint16_t sport, uint16_t dport,
                        uint32_t seq, uint32_t ack, uint8_t flags, const char *payload)
{
    size_t plen = payload ? strlen(payload) : 0;
    size_t tot = 20 + 20 + plen;
    memset(b, 0, tot);
    b[0] = 0x45;
    b[2] = (uint8_t)(tot >> 8), b[3] = (uint8_t)tot;
    b[8] = 64;
    b[9] = 6;
    b[12] = 198, b[13] = 18, b[14] = 3, b[15] = c3;
    b[16] = 198, b[17] = 18, b[18] = 4, b[19] = s3;
    uint8_t *t = b + 20;
    t[0] = (uint8_t)(sport >> 8), t[1] = (uint8_t)sport;
    t[2] = (uint8_t)(dport >> 8), t[3] = (uint8_t)dport;
    t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16), t[6] = (uint8_t)(seq >> 8), t[7] = (uint8_t)seq;
    t[8] = (uint8_t)(ack >> 24), t[9] = (uint8_t)(ack >> 16), t[10] = (uint8_t)(ack >> 8), t[11] = (uint8_t)ack;
    t[12] = 5 << 4;
    t[13] = flags;
    t[14] = 0xff, t[15] = 0xff;
    if (plen)
        memcpy(t + 20, payload, plen);
    return tot;
}

static int64_t g_clock = 1700000000000000LL;

/* Feed one segment; from_server reverses the addresses and ports. */
static void feed(int from_server, uint8_t c3, uint16_t cport, uint32_t seq, uint32_t ack,
                 uint8_t flags, const char *payload)
{
    uint8_t buf[2048];
    size_t n = build_tcp(buf, c3, 2, cport, 80, seq, ack, flags, payload);
    if (from_server) {
        uint8_t tmp[4];
        memcpy(tmp, buf + 12, 4);
        memcpy(buf + 12, buf + 16, 4);
        memcpy(buf + 16, tmp, 4);
        memcpy(tmp, buf + 20, 2);
        memcpy(buf + 20, buf + 22, 2);
        memcpy(buf + 22, tmp, 2);
    }
    vigil_packet p;
    enum vigil_decode_event ev;
    assert_int_equal(vigil_decode(12 /* DLT_RAW */, buf, (uint32_t)n, (uint32_t)n, &p, &ev),
                     VIGIL_DECODE_OK);
    p.ts_us = (g_clock += 1000);
    vigil_reasm_feed(&p);
}

/* Client 198.18.3.c3:cport talks to server 198.18.4.2:80. */
static void session(uint8_t c3, uint16_t cport, int close_it)
{
    feed(0, c3, cport, 1000, 0, 0x02, NULL);            /* SYN */
    feed(1, c3, cport, 5000, 1001, 0x12, NULL);         /* SYN/ACK */
    feed(0, c3, cport, 1001, 5001, 0x10, NULL);         /* ACK */
    feed(0, c3, cport, 1001, 5001, 0x18, "hello");
    feed(0, c3, cport, 1006, 5001, 0x18, "there");
    feed(1, c3, cport, 5001, 1011, 0x18, "world!!");
    if (!close_it)
        return;
    feed(1, c3, cport, 5008, 1011, 0x11, NULL);         /* server FIN */
    feed(0, c3, cport, 1011, 5009, 0x11, NULL);         /* client FIN */
    feed(1, c3, cport, 5009, 1012, 0x10, NULL);         /* last ACK */
}

static void test_session_events_in_order(void **state)
{
    (void)state;
    g_seen.n = 0;
    session(1, 40000, 1);
    assert_int_equal(g_seen.n, 5);
    assert_int_equal(g_seen.ev[0].event, VIGIL_STREAM_ESTABLISHED);
    assert_int_equal(g_seen.ev[1].event, VIGIL_STREAM_DATA);
    assert_int_equal(g_seen.ev[1].dir, VIGIL_DIR_TO_SERVER);
    assert_string_equal(g_seen.ev[1].data, "hello");
    assert_int_equal(g_seen.ev[1].offset, 0);
    assert_string_equal(g_seen.ev[2].data, "there");
    assert_int_equal(g_seen.ev[2].offset, 5);
    assert_int_equal(g_seen.ev[3].dir, VIGIL_DIR_TO_CLIENT);
    assert_string_equal(g_seen.ev[3].data, "world!!");
    assert_int_equal(g_seen.ev[3].offset, 0);
    assert_int_equal(g_seen.ev[4].event, VIGIL_STREAM_CLOSED);
    assert_int_equal(g_stats.streams_established, 1);
    assert_int_equal(g_stats.streams_closed, 1);
    assert_int_equal(g_stats.stream_bytes, 17);
}

static void test_midstream_is_ignored(void **state)
{
    (void)state;
    g_seen.n = 0;
    feed(0, 9, 41000, 777, 888, 0x18, "no handshake");
    assert_int_equal(g_seen.n, 0);
}

/* Handshakes that never complete wait outside libnids' table (embryo.c):
 * 2,000 spoofed SYNs, each with a blind ACK, evict nothing there. */
static void test_embryonic_flood_evicts_nothing(void **state)
{
    (void)state;
    uint64_t completed = g_stats.embryonic.completed;
    session(50, 30000, 0);
    g_seen.n = 0;
    uint64_t evicted = g_stats.streams_evicted, held = g_stats.embryonic.held;
    for (uint16_t i = 0; i < 2000; i++) {
        feed(0, 100, (uint16_t)(1000 + i), 77u * i, 0, 0x02, NULL);
        feed(0, 100, (uint16_t)(1000 + i), 77u * i + 1, 12345, 0x10, NULL);
    }
    feed(0, 50, 30000, 1011, 5008, 0x18, "after");
    assert_int_equal(g_seen.n, 1);
    assert_int_equal(g_seen.ev[0].event, VIGIL_STREAM_DATA);
    assert_string_equal(g_seen.ev[0].data, "after");
    assert_int_equal(g_stats.streams_evicted, evicted);
    assert_int_equal(g_stats.embryonic.held - held, 2000);
    assert_int_equal(g_stats.embryonic.pending, 2000);
    /* One of them completes after all: libnids sees the whole handshake. */
    feed(1, 100, 1999, 9000, 77u * 999 + 1, 0x12, NULL);
    feed(0, 100, 1999, 77u * 999 + 1, 9001, 0x10, NULL);
    assert_int_equal(g_seen.n, 2);
    assert_int_equal(g_seen.ev[1].event, VIGIL_STREAM_ESTABLISHED);
    assert_int_equal(g_seen.ev[1].client_port, 1999);
    assert_int_equal(g_stats.embryonic.completed - completed, 2);   /* and the victim's */
}

/* 1024 buckets hold 769 streams: the 770th evicts the oldest. */
static void test_table_full_evicts_and_counts(void **state)
{
    (void)state;
    g_seen.n = 0;
    uint64_t evicted = g_stats.streams_evicted;
    for (int i = 0; i < 800; i++)
        session((uint8_t)(10 + i / 250), (uint16_t)(20000 + i), 0);
    assert_true(g_stats.streams_evicted - evicted >= 800 - 769);
    assert_true(g_stats.nids_warnings[VIGIL_NW_TCP_TOOMUCH] > 0);
    size_t timeouts = 0;
    for (size_t i = 0; i < g_seen.n; i++)
        timeouts += g_seen.ev[i].event == VIGIL_STREAM_TIMEOUT;
    assert_int_equal(timeouts, g_stats.streams_evicted - evicted);
}

static void test_close_flushes_open_streams(void **state)
{
    (void)state;
    g_seen.n = 0;
    vigil_reasm_close();
    assert_true(g_seen.n > 0);
    for (size_t i = 0; i < g_seen.n; i++)
        assert_int_equal(g_seen.ev[i].event, VIGIL_STREAM_END);
    assert_int_equal(g_stats.streams_open_at_end, g_seen.n);
}

static int group_setup(void **state)
{
    (void)state;
    char err[256];
    struct vigil_reasm_config cfg = { .n_tcp_streams = 1024 };
    return vigil_reasm_open(&cfg, &g_stats, on_event, NULL, err, sizeof err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_events_in_order),
        cmocka_unit_test(test_midstream_is_ignored),
        cmocka_unit_test(test_embryonic_flood_evicts_nothing),
        cmocka_unit_test(test_table_full_evicts_and_counts),
        cmocka_unit_test(test_close_flushes_open_streams),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL) != 0;
}
