/*
 * fake_host.h - a small stand-in for the sensor, for the unit tests of the
 * detector plugins.
 *
 * It loads build/plugins/NAME.so (the build directory comes from
 * $VIGIL_BUILD, "build" by default) and drives the plugin through its public
 * ABI only: settings from a table, every alert deep-copied into an array, a
 * small bidirectional flow map behind flow_state()/set_flow_state(), the
 * packet clock, home_net and address lists parsed from "net/len, ..." text.
 * Packet and stream builders return ready-to-deliver vigil_packet and
 * vigil_stream values that a test may adjust before delivering them.
 *
 * Typical use:
 *
 *     static int setup(void **st) { (void)st; return fh_load("portscan"); }
 *     ...
 *     fh_host *h = fh_start(NULL, 0);
 *     vigil_packet p = fh_tcp(T0, fh_v4(FH_IP(10, 0, 0, 1)), 40000, ...);
 *     fh_packet(h, &p);
 *     fh_finish(h);                   (on_finish, flows released, fini)
 *     assert_int_equal(h->nalerts, 1);
 *     fh_free(h);
 *     ...
 *     cmocka_run_group_tests(tests, setup, fh_unload_group);
 *
 * Unit tests include <cmocka.h> before this header.
 */
#ifndef VIGIL_TEST_FAKE_HOST_H
#define VIGIL_TEST_FAKE_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/plugin.h"

#define FH_US 1000000LL
#define FH_T0 (1700000000LL * FH_US)   /* a whole second: the tests' epoch */

#define FH_IP(a, b, c, d)                                                                  \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

#define FH_FLOW_SLOTS 4096      /* direct-mapped: a colliding flow evicts the old one */
#define FH_MAX_SETTINGS 32
#define FH_MAX_ALERTS_DEFAULT 10000

/* One setting of the plugin's section, as text (integers too: "1024"). */
typedef struct fh_setting {
    const char *key;
    const char *value;
} fh_setting;

/* An alert as the plugin emitted it; every string and meta entry is a copy. */
typedef struct fh_alert {
    uint32_t gid, sid, rev, severity;
    char *signature, *category, *attack_category, *attack_technique, *mitre_attack;
    vigil_addr src, dst;
    uint16_t sport, dport;
    uint8_t ip_proto;
    int64_t ts_us;              /* as emitted (0: "now") */
    vigil_meta *meta;           /* keys and values copied */
    size_t meta_count;
    char *meta_str;             /* "key=value;key=value;" in order */
} fh_alert;

struct fh_flow {
    int used;
    vigil_addr lo, hi;
    uint16_t lo_port, hi_port;
    uint8_t proto;
    void *state;
};

/* The host: one per plugin instance. Tests read the fields directly. */
typedef struct vigil_ctx fh_host;
struct vigil_ctx {
    const vigil_plugin *desc;
    void *state;                /* the plugin's, NULL before init and after fini */
    fh_setting settings[FH_MAX_SETTINGS];
    size_t nsettings;
    char *owned_values[FH_MAX_SETTINGS];    /* fh_set_int's strings */
    size_t nowned;
    const char *home_net;       /* list for in_home_net(); NULL: nothing is home */
    int ticks;                  /* deliver on_tick once per second (default 1) */

    fh_alert *alerts;
    size_t nalerts, alerts_cap, max_alerts, dropped_alerts;
    char last_log[1024];        /* the last line logged */
    int last_log_level;

    struct fh_flow *flows;      /* FH_FLOW_SLOTS */
    struct fh_flow *cur_flow;   /* of the event being delivered */
    size_t flows_evicted;
    int64_t now_us, last_tick_us;   /* last_tick_us 0: set by the first event */
};

/* ---- the plugin ---------------------------------------------------------------------- */

/* dlopen $VIGIL_BUILD/plugins/NAME.so and call its entry point: 0 or -1. */
int fh_load(const char *name);
/* The loaded plugin's descriptor (NULL before fh_load). */
const vigil_plugin *fh_plugin(void);
/* dlclose it. The teardown form fits cmocka's group and per-test hooks. */
void fh_unload(void);
int fh_unload_group(void **state);

/* Per-test hooks: *state becomes an initialised host with default settings
 * (the test fails to start when init refuses); fh_free on teardown. */
int fh_setup_host(void **state);
int fh_teardown_host(void **state);

/* The host API the fake host passes to init (for tests that call init themselves). */
const vigil_host_api *fh_api(void);

/* ---- a host ---------------------------------------------------------------------------- */

/* A host for the loaded plugin, not initialised yet. */
fh_host *fh_new(void);
/* Add a setting (both strings must outlive the host), or an integer one. */
void fh_set(fh_host *h, const char *key, const char *value);
void fh_set_int(fh_host *h, const char *key, int64_t value);
void fh_set_all(fh_host *h, const fh_setting *settings, size_t n);
/* Start the tick clock at `ts` (a whole second) and set now. */
void fh_set_clock(fh_host *h, int64_t ts);
/* The plugin's init: its return code; h->state is set only on VIGIL_OK. */
int fh_init(fh_host *h);
/* fh_new + fh_set_all + fh_init, which must succeed. */
fh_host *fh_start(const fh_setting *settings, size_t n);

/* End of input: the plugin's on_finish only (it may still emit alerts). */
void fh_end(fh_host *h);
/* fh_end, then every flow state released through flow_free, then fini.
 * The alerts stay readable until fh_free. */
void fh_finish(fh_host *h);
/* Release flows and fini (when still initialised, without on_finish), free all. */
void fh_free(fh_host *h);

/* ---- time and events ------------------------------------------------------------------ */

/* Deliver the ticks due before an event at `ts` (when ticks are on), set now. */
void fh_advance(fh_host *h, int64_t ts);
/* Deliver a packet at p->ts_us: ticks, its flow (IP, not fragments), on_packet. */
void fh_packet(fh_host *h, const vigil_packet *p);
/* Deliver a stream event at st->ts_us: ticks, its TCP flow, on_stream. */
void fh_stream(fh_host *h, const vigil_stream *st);
/* Drop the flow of this 5-tuple (flow_free on its state), as a host's timeout. */
void fh_flow_drop(fh_host *h, const vigil_addr *a, uint16_t aport, const vigil_addr *b,
                  uint16_t bport, uint8_t proto);

/* ---- alerts ------------------------------------------------------------------------------ */

/* The first value of `key` in an alert's meta, or NULL. */
const char *fh_meta(const fh_alert *a, const char *key);
/* How many alerts carry this signature id. */
size_t fh_count_sid(const fh_host *h, uint32_t sid);
/* Assert two alerts are the same in every field and meta entry. */
void fh_assert_alert_equal(const fh_alert *a, const fh_alert *b);
/* A number logged as " key=N" (or at the start of the line) in the last log line. */
uint64_t fh_log_counter(const fh_host *h, const char *key);

/* ---- addresses ---------------------------------------------------------------------------- */

vigil_addr fh_v4(uint32_t host_order);
/* From text ("198.18.0.1", "2001:db8::1"); fails the test on a bad address. */
vigil_addr fh_addr(const char *text);
/* The IPv4 address as a host-order number (0 for other families). */
uint32_t fh_u32(const vigil_addr *a);
/* Whether a is in a "net/len, addr, ..." list: 1, 0, or VIGIL_EINVAL if malformed. */
int fh_addr_in_list(const char *list, const vigil_addr *a);

/* ---- packets and streams --------------------------------------------------------------------- */

/* An IP packet (v4 or v6 after src's family): ttl 64, HAS_L4, no payload. */
vigil_packet fh_ip(int64_t ts, vigil_addr src, vigil_addr dst, uint8_t proto);
vigil_packet fh_tcp(int64_t ts, vigil_addr src, uint16_t sport, vigil_addr dst, uint16_t dport,
                    uint8_t tcp_flags);
vigil_packet fh_udp(int64_t ts, vigil_addr src, uint16_t sport, vigil_addr dst, uint16_t dport);
/* ICMP (ICMPv6 for v6): sport/dport carry type and code, as the host's decoder does. */
vigil_packet fh_icmp(int64_t ts, vigil_addr src, vigil_addr dst, uint8_t type, uint8_t code);
/* Attach a payload (captured and wire length n). */
void fh_payload(vigil_packet *p, const void *data, size_t n);
/* An ARP packet; sha/tha/eth_src/eth_dst may be NULL (zero). */
vigil_packet fh_arp(int64_t ts, uint16_t op, vigil_addr sender, vigil_addr target,
                    const uint8_t *sha, const uint8_t *eth_src, const uint8_t *eth_dst);

/* A stream event of client:cport -> server:sport (no data). */
vigil_stream fh_stream_event(int64_t ts, uint32_t event, vigil_addr client, uint16_t cport,
                             vigil_addr server, uint16_t sport);

/* A TCP connection as the reassembler reports it: offsets and totals kept. */
typedef struct fh_conn {
    vigil_addr client, server;
    uint16_t cport, sport;
    uint64_t sent[2];           /* bytes so far per VIGIL_DIR_* */
} fh_conn;

/* An IPv4 connection client:cport -> server:sport, nothing sent yet. */
fh_conn fh_conn_v4(uint32_t client, uint32_t server, uint16_t cport, uint16_t sport);
/* Deliver one event of c (DATA: data/len in direction dir, offsets advance). */
void fh_conn_event(fh_host *h, fh_conn *c, int64_t ts, uint32_t event, uint32_t dir,
                   const void *data, size_t len);
void fh_conn_open(fh_host *h, fh_conn *c, int64_t ts);     /* ESTABLISHED, counters reset */
void fh_conn_send(fh_host *h, fh_conn *c, int64_t ts, uint32_t dir, const char *s);
void fh_conn_close(fh_host *h, fh_conn *c, int64_t ts);    /* CLOSED */

#endif
