/*
 * test_eve.c - the EVE writer: every line it writes must parse as strict
 * JSON, with the fields in the documented order and exact integers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "community_id.h"
#include "eve.h"

/* ---- helpers -------------------------------------------------------- */

/* A fresh temporary file name; the file exists and is empty. */
static void temp_path(char *buf, size_t len)
{
    const char *dir = getenv("TMPDIR");

    snprintf(buf, len, "%s/vigil_eve_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(buf);
    assert_true(fd >= 0);
    close(fd);
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long size = ftell(fp);
    assert_true(size >= 0);
    rewind(fp);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    buf[size] = '\0';
    fclose(fp);
    return buf;
}

/* Every line of path, parsed strictly, as a JSON array; each line ends in \n. */
static json_t *read_records(const char *path)
{
    char *text = slurp(path);
    json_t *all = json_array();
    char *line = text;

    while (*line) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);    /* no half line at the end */
        *nl = '\0';
        json_error_t err;
        json_t *rec = json_loads(line, JSON_REJECT_DUPLICATES, &err);
        if (!rec)
            fail_msg("bad JSON line: %s (%s)", line, err.text);
        assert_true(json_is_object(rec));
        json_array_append_new(all, rec);
        line = nl + 1;
    }
    free(text);
    return all;
}

/* Write the events with a fresh writer and return what was written. */
static json_t *write_alerts(const struct vigil_alert_event *ev, size_t n)
{
    char path[256], errbuf[256];

    temp_path(path, sizeof path);
    struct vigil_eve *eve = vigil_eve_open(path, errbuf, sizeof errbuf);
    assert_non_null(eve);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(vigil_eve_write_alert(eve, &ev[i]), 0);
    assert_int_equal(vigil_eve_close(eve), 0);
    json_t *recs = read_records(path);
    unlink(path);
    assert_int_equal(json_array_size(recs), n);
    return recs;
}

static json_t *write_one(const vigil_alert *al, const char *detector, uint64_t flow_id)
{
    struct vigil_alert_event ev = {
        .alert = al, .detector = detector,
        .ts_us = 1700000000123456, .flow_id = flow_id,
    };
    json_t *recs = write_alerts(&ev, 1);
    json_t *rec = json_incref(json_array_get(recs, 0));
    json_decref(recs);
    return rec;
}

static void set_addr(vigil_addr *a, const char *text)
{
    memset(a, 0, sizeof *a);
    if (strchr(text, ':')) {
        a->family = 6;
        assert_int_equal(inet_pton(AF_INET6, text, a->bytes), 1);
    } else {
        a->family = 4;
        assert_int_equal(inet_pton(AF_INET, text, a->bytes), 1);
    }
}

static vigil_alert base_alert(void)
{
    vigil_alert al = {
        .size = sizeof al, .gid = 0, .signature_id = 9000001, .rev = 0,
        .severity = 2, .signature = "SENSOR SCAN TCP vertical port scan",
        .category = "Attempted Information Leak",
        .sport = 40000, .dport = 22, .ip_proto = 6,
    };
    set_addr(&al.src, "198.18.0.5");
    set_addr(&al.dst, "198.19.0.20");
    return al;
}

static const char *str_at(json_t *obj, const char *path1, const char *path2)
{
    json_t *v = json_object_get(obj, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_string_value(v);
}

/* The object's keys, in order, are exactly the NULL-terminated list. */
static void assert_keys(json_t *obj, const char *const *keys)
{
    void *it = json_object_iter(obj);
    size_t i = 0;

    for (; it; it = json_object_iter_next(obj, it), i++) {
        assert_non_null(keys[i]);
        assert_string_equal(json_object_iter_key(it), keys[i]);
    }
    assert_null(keys[i]);
}

static json_t *array_of(const char *const *vals)
{
    json_t *arr = json_array();
    for (size_t i = 0; vals[i]; i++)
        json_array_append_new(arr, json_string(vals[i]));
    return arr;
}

static void assert_array(json_t *got, const char *const *want)
{
    json_t *expect = array_of(want);
    if (!json_equal(got, expect)) {
        char *g = json_dumps(got, JSON_COMPACT);
        char *e = json_dumps(expect, JSON_COMPACT);
        fail_msg("got %s, want %s", g ? g : "(null)", e ? e : "(null)");
    }
    json_decref(expect);
}

/* ---- timestamps ----------------------------------------------------- */

static void assert_ts_shape(const char *ts)
{
    regex_t re;
    assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
                                  "[0-9]{2}\\.[0-9]{6}\\+0000$", REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, ts, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("bad timestamp shape: %s", ts);
}

static void test_timestamp(void **state)
{
    static const int64_t samples[] = {
        0, 1, -1, 999999, 1700000000123456, INT64_MAX, INT64_MIN, -86400000001,
    };
    char ts[64];

    (void)state;
    vigil_format_ts(1700000000123456, ts, sizeof ts);
    assert_string_equal(ts, "2023-11-14T22:13:20.123456+0000");
    vigil_format_ts(1747215041250000, ts, sizeof ts);
    assert_string_equal(ts, "2025-05-14T09:30:41.250000+0000");
    vigil_format_ts(0, ts, sizeof ts);
    assert_string_equal(ts, "1970-01-01T00:00:00.000000+0000");
    vigil_format_ts(-1, ts, sizeof ts);
    assert_string_equal(ts, "1969-12-31T23:59:59.999999+0000");
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        vigil_format_ts(samples[i], ts, sizeof ts);
        assert_ts_shape(ts);
    }
    /* a short buffer is truncated, never overrun */
    char small[8];
    memset(small, 'x', sizeof small);
    vigil_format_ts(0, small, sizeof small);
    assert_string_equal(small, "1970-01");
}

/* ---- alerts --------------------------------------------------------- */

static void test_alert_layout(void **state)
{
    static const char *const top[] = {
        "timestamp", "flow_id", "event_type", "src_ip", "src_port", "dest_ip",
        "dest_port", "proto", "community_id", "alert", NULL,
    };
    static const char *const body[] = {
        "action", "gid", "signature_id", "rev", "signature", "category",
        "severity", "metadata", NULL,
    };
    vigil_alert al = base_alert();
    char cid[VIGIL_COMMUNITY_ID_LEN];

    (void)state;
    json_t *rec = write_one(&al, "portscan", 1234567890123456);
    assert_keys(rec, top);
    assert_string_equal(str_at(rec, "timestamp", NULL), "2023-11-14T22:13:20.123456+0000");
    assert_int_equal(json_integer_value(json_object_get(rec, "flow_id")), 1234567890123456);
    assert_string_equal(str_at(rec, "event_type", NULL), "alert");
    assert_string_equal(str_at(rec, "src_ip", NULL), "198.18.0.5");
    assert_int_equal(json_integer_value(json_object_get(rec, "src_port")), 40000);
    assert_string_equal(str_at(rec, "dest_ip", NULL), "198.19.0.20");
    assert_int_equal(json_integer_value(json_object_get(rec, "dest_port")), 22);
    assert_string_equal(str_at(rec, "proto", NULL), "TCP");
    assert_int_equal(vigil_community_id(&al.src, &al.dst, 40000, 22, 6, 0, 1, cid, sizeof cid), 0);
    assert_string_equal(str_at(rec, "community_id", NULL), cid);

    json_t *a = json_object_get(rec, "alert");
    assert_keys(a, body);
    assert_string_equal(str_at(a, "action", NULL), "allowed");
    assert_int_equal(json_integer_value(json_object_get(a, "gid")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "signature_id")), 9000001);
    assert_int_equal(json_integer_value(json_object_get(a, "rev")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "severity")), 2);
    assert_string_equal(str_at(a, "signature", NULL), al.signature);
    assert_string_equal(str_at(a, "category", NULL), al.category);
    static const char *const det[] = {"portscan", NULL};
    assert_array(json_object_get(json_object_get(a, "metadata"), "detector"), det);
    json_decref(rec);
}

static void test_escaping(void **state)
{
    static const char nasty[] = "say \"hi\" \\ back\\slash \x01 ctl\nnew\tline \x1f/";
    vigil_alert al = base_alert();
    vigil_meta meta[] = {{"note", nasty}, {"k\"ey\n", "v"}};
    char path[256];

    (void)state;
    al.signature = nasty;
    al.category = "\t";
    al.meta = meta;
    al.meta_count = 2;
    temp_path(path, sizeof path);
    struct vigil_eve *eve = vigil_eve_open(path, NULL, 0);
    assert_non_null(eve);
    struct vigil_alert_event ev = {.alert = &al, .detector = "x", .ts_us = 1, .flow_id = 7};
    assert_int_equal(vigil_eve_write_alert(eve, &ev), 0);
    assert_int_equal(vigil_eve_close(eve), 0);

    /* exactly one line: the newline in the text was escaped */
    char *raw = slurp(path);
    assert_true(strchr(raw, '\n') == raw + strlen(raw) - 1);
    for (const char *p = raw; *p; p++)
        assert_true((unsigned char)*p >= 0x20 || *p == '\n');
    free(raw);

    json_t *recs = read_records(path);
    unlink(path);
    json_t *a = json_object_get(json_array_get(recs, 0), "alert");
    assert_string_equal(str_at(a, "signature", NULL), nasty);
    assert_string_equal(str_at(a, "category", NULL), "\t");
    json_t *md = json_object_get(a, "metadata");
    static const char *const note[] = {nasty, NULL};
    static const char *const v[] = {"v", NULL};
    assert_array(json_object_get(md, "note"), note);
    assert_array(json_object_get(md, "k\"ey\n"), v);
    json_decref(recs);
}

static void test_invalid_utf8(void **state)
{
    vigil_alert al = base_alert();
    vigil_meta meta[] = {
        {"evidence", "\xed\xa0\x80 surrogate"},      /* UTF-16 surrogate */
        {"bad\xffkey", "\xc0\xaf overlong"},         /* overlong '/' */
        {"fine", "caf\xc3\xa9 \xf0\x9f\x94\x92"},    /* valid: kept as is */
        {"cut", "end\xe2\x82"},                      /* truncated sequence */
    };

    (void)state;
    al.signature = "bad \xff\xfe bytes";
    al.category = "\xf5\x80\x80\x80";                /* beyond U+10FFFF */
    al.attack_technique = "\x80";
    al.meta = meta;
    al.meta_count = 4;
    json_t *rec = write_one(&al, "det\xfe", 5);
    json_t *a = json_object_get(rec, "alert");
    assert_string_equal(str_at(a, "signature", NULL), "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
    assert_string_equal(str_at(a, "category", NULL),
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_t *md = json_object_get(a, "metadata");
    static const char *const det[] = {"det\xef\xbf\xbd", NULL};
    static const char *const tech[] = {"\xef\xbf\xbd", NULL};
    static const char *const ev[] = {"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate", NULL};
    static const char *const over[] = {"\xef\xbf\xbd\xef\xbf\xbd overlong", NULL};
    static const char *const fine[] = {"caf\xc3\xa9 \xf0\x9f\x94\x92", NULL};
    static const char *const cut[] = {"end\xef\xbf\xbd\xef\xbf\xbd", NULL};
    assert_array(json_object_get(md, "detector"), det);
    assert_array(json_object_get(md, "attack_technique"), tech);
    assert_array(json_object_get(md, "evidence"), ev);
    assert_array(json_object_get(md, "bad\xef\xbf\xbdkey"), over);
    assert_array(json_object_get(md, "fine"), fine);
    assert_array(json_object_get(md, "cut"), cut);
    json_decref(rec);
}

static void test_flow_id_exact(void **state)
{
    const uint64_t max = (UINT64_C(1) << 53) - 1;
    vigil_alert al = base_alert();

    (void)state;
    json_t *rec = write_one(&al, "d", max);
    assert_int_equal((uint64_t)json_integer_value(json_object_get(rec, "flow_id")), max);
    json_decref(rec);

    /* 0 means the alert belongs to no flow: no flow_id at all */
    rec = write_one(&al, "d", 0);
    assert_null(json_object_get(rec, "flow_id"));
    json_decref(rec);
}

static void test_metadata(void **state)
{
    vigil_alert al = base_alert();
    vigil_meta meta[] = {
        {"port", "22"}, {"host", "a"}, {"port", "23"}, {"mitre_attack", "T9999"},
        {NULL, "ignored"}, {"port", "80"}, {"empty", ""}, {"nullval", NULL},
    };
    static const char *const keys[] = {
        "detector", "attack_category", "attack_technique", "mitre_attack",
        "port", "host", "empty", "nullval", NULL,
    };

    (void)state;
    al.attack_category = "port_scan";
    al.attack_technique = "syn_scan";
    al.mitre_attack = " T1046, T1595.001 ,, \tT1190 ,";
    al.meta = meta;
    al.meta_count = sizeof meta / sizeof meta[0];
    json_t *rec = write_one(&al, "portscan", 9);
    json_t *md = json_object_get(json_object_get(rec, "alert"), "metadata");
    assert_keys(md, keys);

    static const char *const cat[] = {"port_scan", NULL};
    static const char *const tech[] = {"syn_scan", NULL};
    static const char *const mitre[] = {"T1046", "T1595.001", "T1190", "T9999", NULL};
    static const char *const port[] = {"22", "23", "80", NULL};
    static const char *const host[] = {"a", NULL};
    static const char *const empty[] = {"", NULL};
    assert_array(json_object_get(md, "attack_category"), cat);
    assert_array(json_object_get(md, "attack_technique"), tech);
    assert_array(json_object_get(md, "mitre_attack"), mitre);
    assert_array(json_object_get(md, "port"), port);
    assert_array(json_object_get(md, "host"), host);
    assert_array(json_object_get(md, "empty"), empty);
    assert_array(json_object_get(md, "nullval"), empty);
    json_decref(rec);

    /* unset attack fields leave no keys behind */
    vigil_alert plain = base_alert();
    plain.attack_category = "";
    rec = write_one(&plain, "d", 9);
    md = json_object_get(json_object_get(rec, "alert"), "metadata");
    static const char *const only[] = {"detector", NULL};
    assert_keys(md, only);
    json_decref(rec);
}

static void test_ipv6_and_protocols(void **state)
{
    vigil_alert al = base_alert();
    char cid[VIGIL_COMMUNITY_ID_LEN];

    (void)state;
    set_addr(&al.src, "2001:db8::1");
    set_addr(&al.dst, "2001:db8:0:1::ff");
    al.ip_proto = 58;
    al.sport = 128;
    al.dport = 0;
    json_t *rec = write_one(&al, "d", 1);
    assert_string_equal(str_at(rec, "src_ip", NULL), "2001:db8::1");
    assert_string_equal(str_at(rec, "dest_ip", NULL), "2001:db8:0:1::ff");
    assert_string_equal(str_at(rec, "proto", NULL), "IPv6-ICMP");
    assert_int_equal(vigil_community_id(&al.src, &al.dst, 128, 0, 58, 0, 1, cid, sizeof cid), 0);
    assert_string_equal(str_at(rec, "community_id", NULL), cid);
    json_decref(rec);

    static const struct { uint8_t proto; const char *name; } names[] = {
        {1, "ICMP"}, {6, "TCP"}, {17, "UDP"}, {132, "SCTP"}, {47, "47"}, {255, "255"},
    };
    set_addr(&al.src, "198.18.1.1");
    set_addr(&al.dst, "198.18.1.2");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        al.ip_proto = names[i].proto;
        rec = write_one(&al, "d", 1);
        assert_string_equal(str_at(rec, "proto", NULL), names[i].name);
        assert_non_null(str_at(rec, "community_id", NULL));
        json_decref(rec);
    }
}

static void test_missing_addresses(void **state)
{
    static const char *const keys[] = {"timestamp", "flow_id", "event_type", "proto", "alert", NULL};
    static const char *const src_only[] = {
        "timestamp", "event_type", "src_ip", "src_port", "alert", NULL,
    };
    vigil_alert al = base_alert();

    (void)state;
    memset(&al.src, 0, sizeof al.src);
    memset(&al.dst, 0, sizeof al.dst);
    json_t *rec = write_one(&al, "d", 3);
    assert_keys(rec, keys);
    json_decref(rec);

    /* an ARP-style alert: one address, no IP protocol, no flow */
    al = base_alert();
    memset(&al.dst, 0, sizeof al.dst);
    al.ip_proto = 0;
    rec = write_one(&al, "d", 0);
    assert_keys(rec, src_only);
    json_decref(rec);

    /* mixed families: addresses shown, no Community ID */
    al = base_alert();
    set_addr(&al.dst, "2001:db8::2");
    rec = write_one(&al, "d", 3);
    assert_non_null(str_at(rec, "dest_ip", NULL));
    assert_null(json_object_get(rec, "community_id"));
    json_decref(rec);
}

/* ---- stats ---------------------------------------------------------- */

static void test_stats_layout(void **state)
{
    static const char *const top[] = {"timestamp", "event_type", "stats", NULL};
    static const char *const groups[] = {"capture", "decoder", "reassembly", "flows", "detect",
                                         "output", NULL};
    static const char *const eve_out[] = {"write_errors", "records_delayed", "records_held",
                                          "records_dropped", "alerts_dropped", "degraded", NULL};
    static const char *const capture[] = {
        "packets", "bytes", "kernel_received", "kernel_dropped", "iface_dropped",
        "bad_caplen", "bad_timestamp", NULL,
    };
    static const char *const decoder[] = {
        "decoded", "ipv4", "ipv6", "arp", "other_l3", "tcp", "udp", "icmp",
        "other_l4", "truncated", "malformed", "events", NULL,
    };
    static const char *const reasm[] = {
        "ipv4_packets", "streams_established", "streams_closed", "streams_reset",
        "streams_evicted", "streams_open_at_end", "bytes", "warnings",
        "uninspected_bytes", "embryonic", NULL,
    };
    static const char *const flows[] = {"created", "expired", "evicted", "active", NULL};
    static const char *const detect[] = {"alerts", "suppressed", "deduplicated",
                                         "plugins_disabled", "by_detector", NULL};
    static const char *const uninspected[] = {"midstream", "ipv6", "table_full", "snaplen_cut", "tiny_fragment", "fragment_budget", NULL};
    static const char *const embryonic[] = {"held", "completed", "evicted", "expired", "reset", "pending", NULL};
    static const struct vigil_detector_count det[] = {
        {"portscan", 3}, {"dns_tunnel", 0}, {"portscan", 2},
    };
    struct vigil_stats st;
    char path[256];

    (void)state;
    memset(&st, 0, sizeof st);
    st.packets = 1000;
    st.bytes = (uint64_t)INT64_MAX;         /* largest exact value */
    st.kernel_dropped = UINT64_MAX;         /* saturates */
    st.decoded = 990;
    st.ipv4 = 900;
    st.truncated = 4;
    st.decode_events[VIGIL_DEV_IPV4_TRUNCATED] = 4;
    st.decode_events[VIGIL_DEV_TCP_BAD_OFFSET] = 1;
    st.nids_packets = 800;
    st.nids_warnings[VIGIL_NW_TCP_BADFLAGS] = 6;
    st.stream_bytes = 123456789012345;
    st.uninspected_bytes[VIGIL_UNINSPECTED_CUT] = 77;
    st.embryonic.held = 9;
    st.embryonic.evicted = 8;
    st.embryonic.pending = 1;
    st.flows_created = 12;
    st.flows_active = 2;
    st.alerts = 5;
    st.eve_output.records_dropped = 3;
    st.eve_output.alerts_dropped = 2;
    st.eve_output.degraded = 1;
    st.plugins_disabled = 1;

    temp_path(path, sizeof path);
    struct vigil_eve *eve = vigil_eve_open(path, NULL, 0);
    assert_non_null(eve);
    assert_int_equal(vigil_eve_write_stats(eve, 1700000000123456, &st, det, 3), 0);
    assert_int_equal(vigil_eve_write_stats(eve, 0, &st, NULL, 0), 0);
    assert_int_equal(vigil_eve_close(eve), 0);
    json_t *recs = read_records(path);
    unlink(path);
    assert_int_equal(json_array_size(recs), 2);

    json_t *rec = json_array_get(recs, 0);
    assert_keys(rec, top);
    assert_string_equal(str_at(rec, "event_type", NULL), "stats");
    assert_string_equal(str_at(rec, "timestamp", NULL), "2023-11-14T22:13:20.123456+0000");
    json_t *s = json_object_get(rec, "stats");
    assert_keys(s, groups);
    json_t *cap = json_object_get(s, "capture");
    assert_keys(cap, capture);
    assert_int_equal(json_integer_value(json_object_get(cap, "packets")), 1000);
    assert_true(json_integer_value(json_object_get(cap, "bytes")) == INT64_MAX);
    assert_true(json_integer_value(json_object_get(cap, "kernel_dropped")) == INT64_MAX);

    json_t *dec = json_object_get(s, "decoder");
    assert_keys(dec, decoder);
    assert_int_equal(json_integer_value(json_object_get(dec, "ipv4")), 900);
    static const char *const events[] = {"ipv4.truncated", "tcp.bad_data_offset", NULL};
    json_t *evs = json_object_get(dec, "events");
    assert_keys(evs, events);
    assert_int_equal(json_integer_value(json_object_get(evs, "ipv4.truncated")), 4);

    json_t *re = json_object_get(s, "reassembly");
    assert_keys(re, reasm);
    assert_int_equal(json_integer_value(json_object_get(re, "ipv4_packets")), 800);
    assert_int_equal(json_integer_value(json_object_get(re, "bytes")), 123456789012345);
    json_t *warn = json_object_get(re, "warnings");
    assert_int_equal(json_object_size(warn), VIGIL_NW_COUNT);
    for (int w = 0; w < VIGIL_NW_COUNT; w++) {
        json_t *v = json_object_get(warn, vigil_nids_warning_name((enum vigil_nids_warning)w));
        assert_true(json_is_integer(v));
        assert_int_equal(json_integer_value(v), w == VIGIL_NW_TCP_BADFLAGS ? 6 : 0);
    }
    json_t *un = json_object_get(re, "uninspected_bytes");
    assert_keys(un, uninspected);
    assert_int_equal(json_integer_value(json_object_get(un, "snaplen_cut")), 77);
    json_t *emb = json_object_get(re, "embryonic");
    assert_keys(emb, embryonic);
    assert_int_equal(json_integer_value(json_object_get(emb, "held")), 9);
    assert_int_equal(json_integer_value(json_object_get(emb, "evicted")), 8);
    assert_int_equal(json_integer_value(json_object_get(emb, "pending")), 1);

    json_t *fl = json_object_get(s, "flows");
    assert_keys(fl, flows);
    assert_int_equal(json_integer_value(json_object_get(fl, "created")), 12);
    json_t *dt = json_object_get(s, "detect");
    assert_keys(dt, detect);
    assert_int_equal(json_integer_value(json_object_get(dt, "alerts")), 5);
    assert_int_equal(json_integer_value(json_object_get(dt, "plugins_disabled")), 1);
    json_t *by = json_object_get(dt, "by_detector");
    assert_int_equal(json_object_size(by), 2);
    assert_int_equal(json_integer_value(json_object_get(by, "portscan")), 5);
    assert_int_equal(json_integer_value(json_object_get(by, "dns_tunnel")), 0);

    json_t *out = json_object_get(json_object_get(s, "output"), "eve");
    assert_keys(out, eve_out);
    assert_int_equal(json_integer_value(json_object_get(out, "records_dropped")), 3);
    assert_int_equal(json_integer_value(json_object_get(out, "alerts_dropped")), 2);
    assert_int_equal(json_integer_value(json_object_get(out, "degraded")), 1);
    assert_int_equal(json_integer_value(json_object_get(out, "write_errors")), 0);

    json_t *second = json_object_get(json_object_get(json_array_get(recs, 1), "stats"), "detect");
    assert_int_equal(json_object_size(json_object_get(second, "by_detector")), 0);
    json_decref(recs);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(vigil_nids_warning_name(VIGIL_NW_IP_OVERSIZED), "ip_oversized");
    assert_string_equal(vigil_nids_warning_name(VIGIL_NW_OTHER), "other");
    assert_string_equal(vigil_nids_warning_name(VIGIL_NW_COUNT), "unknown");
    assert_string_equal(vigil_uninspected_name(VIGIL_UNINSPECTED_MIDSTREAM), "midstream");
    assert_string_equal(vigil_uninspected_name(VIGIL_UNINSPECTED_IPV6), "ipv6");
    assert_string_equal(vigil_uninspected_name(VIGIL_UNINSPECTED_TABLE_FULL), "table_full");
    assert_string_equal(vigil_uninspected_name(VIGIL_UNINSPECTED_CUT), "snaplen_cut");
    assert_string_equal(vigil_uninspected_name(VIGIL_UNINSPECTED_TINY_FRAGMENT), "tiny_fragment");
    assert_string_equal(vigil_uninspected_name(VIGIL_UNINSPECTED_FRAG_BUDGET), "fragment_budget");
    assert_string_equal(vigil_uninspected_name(VIGIL_UNINSPECTED_COUNT), "unknown");
}

/* ---- files and errors ----------------------------------------------- */

static void test_append_and_open_errors(void **state)
{
    vigil_alert al = base_alert();
    struct vigil_alert_event ev = {.alert = &al, .detector = "d", .ts_us = 5, .flow_id = 1};
    char path[256], errbuf[256];

    (void)state;
    temp_path(path, sizeof path);
    for (int round = 0; round < 2; round++) {
        struct vigil_eve *eve = vigil_eve_open(path, errbuf, sizeof errbuf);
        assert_non_null(eve);
        assert_int_equal(vigil_eve_write_alert(eve, &ev), 0);
        assert_int_equal(vigil_eve_close(eve), 0);
    }
    json_t *recs = read_records(path);
    assert_int_equal(json_array_size(recs), 2);   /* appended, not truncated */
    json_decref(recs);
    unlink(path);

    errbuf[0] = '\0';
    assert_null(vigil_eve_open("/nonexistent-dir/eve.json", errbuf, sizeof errbuf));
    assert_non_null(strstr(errbuf, "/nonexistent-dir/eve.json"));
    assert_null(vigil_eve_open(NULL, errbuf, sizeof errbuf));

    /* "-" is stdout, which close must not close */
    struct vigil_eve *out = vigil_eve_open("-", errbuf, sizeof errbuf);
    assert_non_null(out);
    assert_int_equal(vigil_eve_close(out), 0);
    assert_int_equal(fflush(stdout), 0);
    assert_int_equal(vigil_eve_close(NULL), 0);
}

static void test_write_errors(void **state)
{
    vigil_alert al = base_alert();
    struct vigil_alert_event ev = {.alert = &al, .detector = "d", .ts_us = 5, .flow_id = 1};
    struct vigil_stats st;

    (void)state;
    if (access("/dev/full", W_OK) != 0) {
        skip();
        return;
    }
    memset(&st, 0, sizeof st);
    /* A full device: records wait in memory, and are lost (counted) when
     * it is still full at the end. */
    struct vigil_eve *eve = vigil_eve_open("/dev/full", NULL, 0);
    assert_non_null(eve);
    assert_int_equal(vigil_eve_write_alert(eve, &ev), 0);
    assert_int_equal(vigil_eve_write_stats(eve, 0, &st, NULL, 0), 0);
    struct vigil_output_stats oc;
    vigil_eve_counters(eve, &oc);
    assert_int_equal(oc.degraded, 1);
    assert_int_equal(oc.records_held, 2);
    assert_true(oc.write_errors >= 1);
    assert_int_equal(oc.records_dropped, 0);
    assert_int_equal(vigil_eve_close(eve), -1);
    assert_int_equal(errno, ENOSPC);

    /* With no backlog, each record that cannot be written is dropped. */
    eve = vigil_eve_open_backlog("/dev/full", 0, NULL, 0);
    assert_non_null(eve);
    assert_int_equal(vigil_eve_write_alert(eve, &ev), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(vigil_eve_write_stats(eve, 0, &st, NULL, 0), -1);
    vigil_eve_counters(eve, &oc);
    assert_int_equal(oc.records_dropped, 2);
    assert_int_equal(oc.alerts_dropped, 1);
    assert_int_equal(vigil_eve_close(eve), -1);
    assert_int_equal(errno, ENOSPC);

    /* a bad argument is an error too, and is remembered */
    char path[256];
    temp_path(path, sizeof path);
    eve = vigil_eve_open(path, NULL, 0);
    assert_non_null(eve);
    struct vigil_alert_event empty = {.alert = NULL};
    assert_int_equal(vigil_eve_write_alert(eve, &empty), -1);
    assert_int_equal(vigil_eve_write_stats(eve, 0, NULL, NULL, 0), -1);
    assert_int_equal(vigil_eve_write_alert(eve, &ev), 0);
    assert_int_equal(vigil_eve_close(eve), -1);
    json_t *recs = read_records(path);
    assert_int_equal(json_array_size(recs), 1);
    json_decref(recs);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_alert_layout),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_flow_id_exact),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_ipv6_and_protocols),
        cmocka_unit_test(test_missing_addresses),
        cmocka_unit_test(test_stats_layout),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_append_and_open_errors),
        cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
