/*
 * eve.c - EVE JSON output: one alert or stats object per line.
 *
 * Every record is built whole as a jansson tree, serialised once and
 * handed to a record file (recfile.h) as one line, so a reader tailing
 * the file never sees half a line and a failed build writes nothing at
 * all. When the file cannot be written (a full disk, say) the record file
 * cuts off what a failed write left, holds later records in a bounded
 * backlog and writes them when it can again; every record it had to drop
 * is counted and makes vigil_eve_close() fail.
 */
#include "eve.h"
#include "output.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "community_id.h"
#include "recfile.h"

#define EVE_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)
#define TS_BUF_LEN 40

/* Timestamps are clamped to years 0000..9999 so the format keeps 4 digits. */
#define TS_MIN_US INT64_C(-62167219200000000)   /* 0000-01-01T00:00:00 */
#define TS_MAX_US INT64_C(253402300799999999)   /* 9999-12-31T23:59:59.999999 */

/* Suricata prints flow_id as an integer JSON readers keep exact: below 2^53. */
#define FLOW_ID_MASK ((UINT64_C(1) << 53) - 1)

/* Kinds of record, for the counts of what was lost. */
enum { EVE_KIND_ALERT = 0, EVE_KIND_STATS = 1 };
static const char *const eve_kind_names[VIGIL_RECFILE_KINDS] = { "alerts", "stats" };

struct vigil_eve {
    struct vigil_recfile *rf;
    int failed;     /* some record could not be built (bad argument, no memory) */
    int first_errno;
};

/* ---- names ---------------------------------------------------------- */

static const char *const nids_warning_names[VIGIL_NW_COUNT] = {
#define VIGIL_NW_NAME(id, name) [VIGIL_NW_##id] = name,
    VIGIL_NIDS_WARNINGS(VIGIL_NW_NAME)
#undef VIGIL_NW_NAME
};

static const char *const uninspected_names[VIGIL_UNINSPECTED_COUNT] = {
    [VIGIL_UNINSPECTED_MIDSTREAM] = "midstream",
    [VIGIL_UNINSPECTED_IPV6] = "ipv6",
    [VIGIL_UNINSPECTED_TABLE_FULL] = "table_full",
    [VIGIL_UNINSPECTED_CUT] = "snaplen_cut",
    [VIGIL_UNINSPECTED_TINY_FRAGMENT] = "tiny_fragment",
    [VIGIL_UNINSPECTED_FRAG_BUDGET] = "fragment_budget",
};

/* Built from the decoder's X-macro, so the stats need no decoder object. */
static const char *const decode_event_names[VIGIL_DEV_COUNT] = {
    [VIGIL_DEV_NONE] = "",
#define VIGIL_DEV_NAME(id, name, kind) [VIGIL_DEV_##id] = name,
    VIGIL_DECODE_EVENTS(VIGIL_DEV_NAME)
#undef VIGIL_DEV_NAME
};

const char *vigil_nids_warning_name(enum vigil_nids_warning w)
{
    return (unsigned)w < VIGIL_NW_COUNT ? nids_warning_names[w] : "unknown";
}

const char *vigil_uninspected_name(enum vigil_uninspected u)
{
    return (unsigned)u < VIGIL_UNINSPECTED_COUNT ? uninspected_names[u] : "unknown";
}

/* ---- timestamps ----------------------------------------------------- */

void vigil_format_ts(int64_t ts_us, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    if (ts_us < TS_MIN_US)
        ts_us = TS_MIN_US;
    if (ts_us > TS_MAX_US)
        ts_us = TS_MAX_US;

    /* floor division, so -1 us is 1969-12-31T23:59:59.999999 */
    int64_t secs = ts_us / 1000000;
    int64_t frac = ts_us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }

    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        memset(&tm, 0, sizeof tm);
        tm.tm_year = 70;
        tm.tm_mday = 1;
        frac = 0;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06d+0000",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

/* ---- strings from plugins: make them valid UTF-8 -------------------- */

/* Length of the well-formed UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp, min;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;   /* overlong, beyond Unicode, or a surrogate */
    return len;
}

/*
 * A NUL-terminated copy of s[0..n) in which every byte that is not part
 * of a well-formed UTF-8 sequence became U+FFFD. NULL only when out of
 * memory. Plugins may hand us any bytes; the field must still appear.
 */
static char *utf8_clean(const char *s, size_t n)
{
    static const char replacement[] = "\xef\xbf\xbd";
    const unsigned char *p = (const unsigned char *)s;
    char *out = malloc(3 * n + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq_len(p + i, n - i);
        if (len == 0) {
            memcpy(out + o, replacement, 3);
            o += 3;
            i += 1;
        } else {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        }
    }
    out[o] = '\0';
    return out;
}

/* A JSON string of s[0..n), repaired when it is not valid UTF-8. */
static json_t *text_n(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);

    if (j)
        return j;
    char *clean = utf8_clean(s, n);
    if (!clean)
        return NULL;
    j = json_string(clean);
    free(clean);
    return j;
}

/* A JSON string of s; NULL becomes "". */
static json_t *text(const char *s)
{
    return s ? text_n(s, strlen(s)) : json_string("");
}

/* ---- building records ----------------------------------------------- */

/* Set key (a valid UTF-8 literal) in obj; 1 on any failure, value consumed. */
static int put(json_t *obj, const char *key, json_t *value)
{
    return json_object_set_new(obj, key, value) != 0;
}

/* JSON integers are signed 64-bit: counters saturate rather than wrap. */
static json_t *count(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static int addr_present(const vigil_addr *a)
{
    return a->family == 4 || a->family == 6;
}

static json_t *addr_json(const vigil_addr *a)
{
    char buf[INET6_ADDRSTRLEN];
    int af = a->family == 4 ? AF_INET : AF_INET6;

    if (!inet_ntop(af, a->bytes, buf, sizeof buf))
        return NULL;
    return json_string(buf);
}

static json_t *proto_json(uint8_t proto)
{
    char num[8];

    switch (proto) {
    case 1: return json_string("ICMP");
    case 6: return json_string("TCP");
    case 17: return json_string("UDP");
    case 58: return json_string("IPv6-ICMP");
    case 132: return json_string("SCTP");
    default:
        snprintf(num, sizeof num, "%u", (unsigned)proto);
        return json_string(num);
    }
}

/* src_ip, src_port, dest_ip, dest_port, proto, community_id. */
static int put_endpoints(json_t *rec, const vigil_alert *al)
{
    int bad = 0;

    if (addr_present(&al->src)) {
        bad |= put(rec, "src_ip", addr_json(&al->src));
        bad |= put(rec, "src_port", json_integer(al->sport));
    }
    if (addr_present(&al->dst)) {
        bad |= put(rec, "dest_ip", addr_json(&al->dst));
        bad |= put(rec, "dest_port", json_integer(al->dport));
    }
    if (al->ip_proto != 0)
        bad |= put(rec, "proto", proto_json(al->ip_proto));

    /* Only a real IP flow has a Community ID; -1 means mixed families. */
    char cid[VIGIL_COMMUNITY_ID_LEN];
    if (al->ip_proto != 0 &&
        vigil_community_id(&al->src, &al->dst, al->sport, al->dport,
                           al->ip_proto, 0, 1, cid, sizeof cid) == 0)
        bad |= put(rec, "community_id", json_string(cid));
    return bad;
}

/* Append value to the array md[key], creating it on first use. */
static int meta_append(json_t *md, const char *key, size_t keylen, json_t *value)
{
    char *k = utf8_clean(key, keylen);
    int bad = 1;

    if (k) {
        json_t *arr = json_object_get(md, k);
        if (!arr) {
            arr = json_array();
            if (json_object_set_new(md, k, arr) != 0)
                arr = NULL;
        }
        bad = json_array_append(arr, value) != 0;
        free(k);
    }
    json_decref(value);
    return bad;
}

static int meta_add(json_t *md, const char *key, const char *value)
{
    return meta_append(md, key, strlen(key), text(value));
}

/* "T1046, T1595.001" -> two values; blanks around ids and empty ids dropped. */
static int meta_add_list(json_t *md, const char *key, const char *list)
{
    int bad = 0;
    const char *p = list;

    while (*p) {
        const char *end = strchr(p, ',');
        const char *stop = end ? end : p + strlen(p);
        const char *b = p, *e = stop;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b)
            bad |= meta_append(md, key, strlen(key), text_n(b, (size_t)(e - b)));
        p = end ? end + 1 : stop;
    }
    return bad;
}

static int set_str(const char *s)
{
    return s && *s;
}

static json_t *metadata_json(const struct vigil_alert_event *ev)
{
    const vigil_alert *al = ev->alert;
    json_t *md = json_object();
    int bad = !md;

    bad |= meta_add(md, "detector", ev->detector ? ev->detector : "unknown");
    if (set_str(al->attack_category))
        bad |= meta_add(md, "attack_category", al->attack_category);
    if (set_str(al->attack_technique))
        bad |= meta_add(md, "attack_technique", al->attack_technique);
    if (set_str(al->mitre_attack))
        bad |= meta_add_list(md, "mitre_attack", al->mitre_attack);
    for (size_t i = 0; al->meta && i < al->meta_count; i++) {
        if (al->meta[i].key)
            bad |= meta_add(md, al->meta[i].key, al->meta[i].value);
    }
    if (bad) {
        json_decref(md);
        return NULL;
    }
    return md;
}

static json_t *alert_body(const struct vigil_alert_event *ev)
{
    const vigil_alert *al = ev->alert;
    json_t *body = json_object();
    int bad = !body;

    bad |= put(body, "action", json_string("allowed"));
    bad |= put(body, "gid", json_integer(al->gid ? al->gid : 1));
    bad |= put(body, "signature_id", json_integer(al->signature_id));
    bad |= put(body, "rev", json_integer(al->rev ? al->rev : 1));
    bad |= put(body, "signature", text(al->signature));
    bad |= put(body, "category", text(al->category));
    bad |= put(body, "severity", json_integer(al->severity));
    bad |= put(body, "metadata", metadata_json(ev));
    if (bad) {
        json_decref(body);
        return NULL;
    }
    return body;
}

static json_t *alert_record(const struct vigil_alert_event *ev)
{
    char ts[TS_BUF_LEN];
    json_t *rec = json_object();
    int bad = !rec;

    vigil_format_ts(ev->ts_us, ts, sizeof ts);
    bad |= put(rec, "timestamp", json_string(ts));
    if (ev->flow_id != 0)   /* 0: the alert belongs to no flow (ARP, say) */
        bad |= put(rec, "flow_id", json_integer((json_int_t)(ev->flow_id & FLOW_ID_MASK)));
    bad |= put(rec, "event_type", json_string("alert"));
    bad |= put_endpoints(rec, ev->alert);
    bad |= put(rec, "alert", alert_body(ev));
    if (bad) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

/* ---- the stats record ----------------------------------------------- */

struct counter_field {
    const char *name;
    size_t offset;      /* of a uint64_t in struct vigil_stats */
};

#define COUNTER(name, member) {name, offsetof(struct vigil_stats, member)}

static const struct counter_field capture_fields[] = {
    COUNTER("packets", packets),
    COUNTER("bytes", bytes),
    COUNTER("kernel_received", kernel_received),
    COUNTER("kernel_dropped", kernel_dropped),
    COUNTER("iface_dropped", iface_dropped),
    COUNTER("bad_caplen", bad_caplen),
    COUNTER("bad_timestamp", bad_timestamp),
};

static const struct counter_field decoder_fields[] = {
    COUNTER("decoded", decoded),
    COUNTER("ipv4", ipv4),
    COUNTER("ipv6", ipv6),
    COUNTER("arp", arp),
    COUNTER("other_l3", other_l3),
    COUNTER("tcp", tcp),
    COUNTER("udp", udp),
    COUNTER("icmp", icmp),
    COUNTER("other_l4", other_l4),
    COUNTER("truncated", truncated),
    COUNTER("malformed", malformed),
};

static const struct counter_field reassembly_fields[] = {
    COUNTER("ipv4_packets", nids_packets),
    COUNTER("streams_established", streams_established),
    COUNTER("streams_closed", streams_closed),
    COUNTER("streams_reset", streams_reset),
    COUNTER("streams_evicted", streams_evicted),
    COUNTER("streams_open_at_end", streams_open_at_end),
    COUNTER("bytes", stream_bytes),
};

static const struct counter_field embryonic_fields[] = {
    COUNTER("held", embryonic.held),
    COUNTER("completed", embryonic.completed),
    COUNTER("evicted", embryonic.evicted),
    COUNTER("expired", embryonic.expired),
    COUNTER("reset", embryonic.reset),
    COUNTER("pending", embryonic.pending),
};

static const struct counter_field flow_fields[] = {
    COUNTER("created", flows_created),
    COUNTER("expired", flows_expired),
    COUNTER("evicted", flows_evicted),
    COUNTER("active", flows_active),
};

#define OUTPUT_COUNTER(name, member) \
    {name, offsetof(struct vigil_stats, eve_output) + offsetof(struct vigil_output_stats, member)}

static const struct counter_field eve_output_fields[] = {
    OUTPUT_COUNTER("write_errors", write_errors),
    OUTPUT_COUNTER("records_delayed", records_delayed),
    OUTPUT_COUNTER("records_held", records_held),
    OUTPUT_COUNTER("records_dropped", records_dropped),
    OUTPUT_COUNTER("alerts_dropped", alerts_dropped),
    OUTPUT_COUNTER("degraded", degraded),
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* An object of the listed counters, in table order. */
static json_t *counter_group(const struct vigil_stats *st,
                             const struct counter_field *f, size_t n)
{
    json_t *obj = json_object();
    int bad = !obj;

    for (size_t i = 0; i < n; i++) {
        const uint64_t *v = (const uint64_t *)(const void *)((const char *)st + f[i].offset);
        bad |= put(obj, f[i].name, count(*v));
    }
    if (bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* names[i]: values[i] for i in [first, n); zeros only when keep_zero. */
static json_t *named_counts(const char *const *names, const uint64_t *values,
                            size_t first, size_t n, int keep_zero)
{
    json_t *obj = json_object();
    int bad = !obj;

    for (size_t i = first; i < n; i++) {
        if (values[i] != 0 || keep_zero)
            bad |= put(obj, names[i], count(values[i]));
    }
    if (bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* Add sub (consumed) to group; on failure both are released and NULL returned. */
static json_t *with(json_t *group, const char *key, json_t *sub)
{
    if (put(group, key, sub)) {
        json_decref(group);
        return NULL;
    }
    return group;
}

static json_t *decoder_json(const struct vigil_stats *st)
{
    json_t *g = counter_group(st, decoder_fields, NFIELDS(decoder_fields));

    return with(g, "events", named_counts(decode_event_names, st->decode_events,
                                          VIGIL_DEV_NONE + 1, VIGIL_DEV_COUNT, 0));
}

static json_t *reassembly_json(const struct vigil_stats *st)
{
    json_t *g = counter_group(st, reassembly_fields, NFIELDS(reassembly_fields));

    g = with(g, "warnings", named_counts(nids_warning_names, st->nids_warnings,
                                         0, VIGIL_NW_COUNT, 1));
    g = with(g, "uninspected_bytes",
             named_counts(uninspected_names, st->uninspected_bytes, 0,
                          VIGIL_UNINSPECTED_COUNT, 1));
    return with(g, "embryonic",
                counter_group(st, embryonic_fields, NFIELDS(embryonic_fields)));
}

/* {name: alerts}; a name listed twice gets the sum. */
static json_t *by_detector_json(const struct vigil_detector_count *det, size_t ndet)
{
    json_t *obj = json_object();
    int bad = !obj;

    for (size_t i = 0; det && i < ndet && !bad; i++) {
        const char *name = det[i].name ? det[i].name : "unknown";
        char *key = utf8_clean(name, strlen(name));
        if (!key) {
            bad = 1;
            break;
        }
        json_t *prev = json_object_get(obj, key);
        uint64_t sum = det[i].alerts;
        if (prev)
            sum += (uint64_t)json_integer_value(prev);
        bad |= put(obj, key, count(sum < det[i].alerts ? UINT64_MAX : sum));
        free(key);
    }
    if (bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static json_t *detect_json(const struct vigil_stats *st,
                           const struct vigil_detector_count *det, size_t ndet)
{
    json_t *obj = json_object();

    if (put(obj, "alerts", count(st->alerts)) ||
        put(obj, "suppressed", count(st->alerts_suppressed)) ||
        put(obj, "deduplicated", count(st->alerts_deduplicated)) ||
        put(obj, "plugins_disabled", count(st->plugins_disabled))) {
        json_decref(obj);
        obj = NULL;
    }
    return with(obj, "by_detector", by_detector_json(det, ndet));
}

/* {"eve": {...}}: how the EVE file was written. */
static json_t *output_json(const struct vigil_stats *st)
{
    return with(json_object(), "eve",
                counter_group(st, eve_output_fields, NFIELDS(eve_output_fields)));
}

static json_t *stats_record(int64_t ts_us, const struct vigil_stats *st,
                            const struct vigil_detector_count *det, size_t ndet)
{
    char ts[TS_BUF_LEN];
    json_t *rec = json_object();
    json_t *body = json_object();
    int bad = !rec || !body;

    vigil_format_ts(ts_us, ts, sizeof ts);
    bad |= put(rec, "timestamp", json_string(ts));
    bad |= put(rec, "event_type", json_string("stats"));
    bad |= put(body, "capture", counter_group(st, capture_fields, NFIELDS(capture_fields)));
    bad |= put(body, "decoder", decoder_json(st));
    bad |= put(body, "reassembly", reassembly_json(st));
    bad |= put(body, "flows", counter_group(st, flow_fields, NFIELDS(flow_fields)));
    bad |= put(body, "detect", detect_json(st, det, ndet));
    bad |= put(body, "output", output_json(st));
    bad |= put(rec, "stats", body);
    if (bad) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

/* ---- output --------------------------------------------------------- */

static int fail(struct vigil_eve *eve, int err)
{
    if (!eve->failed)
        eve->first_errno = err ? err : EIO;
    eve->failed = 1;
    errno = err ? err : EIO;
    return -1;
}

/* Serialise rec (consumed) and write it as one line. */
static int write_record(struct vigil_eve *eve, json_t *rec, int kind)
{
    if (!rec)
        return fail(eve, ENOMEM);

    size_t len = json_dumpb(rec, NULL, 0, EVE_DUMP_FLAGS);
    char *line = len ? malloc(len + 1) : NULL;
    if (line && json_dumpb(rec, line, len, EVE_DUMP_FLAGS) != len) {
        free(line);
        line = NULL;
    }
    json_decref(rec);
    if (!line)
        return fail(eve, ENOMEM);

    line[len] = '\n';
    int rc = vigil_recfile_write(eve->rf, line, len + 1, kind);
    int err = errno;
    free(line);
    errno = err;
    return rc;
}

struct vigil_eve *vigil_eve_open_backlog(const char *path, size_t backlog_bytes,
                                         char *errbuf, size_t errlen)
{
    struct vigil_recfile_options o = {
        .backlog_bytes = backlog_bytes,
        .what = "EVE output",
        .kind_names = eve_kind_names,
    };
    struct vigil_eve *eve = calloc(1, sizeof *eve);
    if (!eve) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "cannot open EVE output %s: out of memory",
                     path ? path : "(none)");
        return NULL;
    }
    char why[512];
    eve->rf = vigil_recfile_open(path, &o, why, sizeof why);
    if (!eve->rf) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s", why);
        free(eve);
        return NULL;
    }
    return eve;
}

struct vigil_eve *vigil_eve_open(const char *path, char *errbuf, size_t errlen)
{
    return vigil_eve_open_backlog(path, VIGIL_EVE_BACKLOG_DEFAULT, errbuf, errlen);
}

int vigil_eve_close(struct vigil_eve *eve)
{
    if (!eve)
        return 0;
    if (vigil_recfile_close(eve->rf) < 0)
        fail(eve, errno);
    int failed = eve->failed, err = eve->first_errno;
    free(eve);
    if (failed) {
        errno = err;
        return -1;
    }
    return 0;
}

void vigil_eve_counters(const struct vigil_eve *eve, struct vigil_output_stats *out)
{
    struct vigil_recfile_counters c;
    vigil_recfile_counters(eve->rf, &c);
    *out = (struct vigil_output_stats){
        .write_errors = c.write_errors,
        .records_delayed = c.delayed,
        .records_held = c.held,
        .records_dropped = c.dropped,
        .alerts_dropped = c.dropped_kind[EVE_KIND_ALERT],
        .degraded = (uint64_t)c.degraded,
    };
}

void vigil_eve_tick(struct vigil_eve *eve)
{
    vigil_recfile_tick(eve->rf);
}

int vigil_eve_write_alert(struct vigil_eve *eve, const struct vigil_alert_event *ev)
{
    if (!eve) {
        errno = EINVAL;
        return -1;
    }
    if (!ev || !ev->alert)
        return fail(eve, EINVAL);
    return write_record(eve, alert_record(ev), EVE_KIND_ALERT);
}

int vigil_eve_write_stats(struct vigil_eve *eve, int64_t ts_us,
                          const struct vigil_stats *st,
                          const struct vigil_detector_count *det, size_t ndet)
{
    if (!eve) {
        errno = EINVAL;
        return -1;
    }
    if (!st)
        return fail(eve, EINVAL);
    return write_record(eve, stats_record(ts_us, st, det, ndet), EVE_KIND_STATS);
}

json_t *vigil_eve_alert_json(const struct vigil_alert_event *ev)
{
    return ev && ev->alert ? alert_record(ev) : NULL;
}

json_t *vigil_eve_stats_json(int64_t ts_us, const struct vigil_stats *st,
                             const struct vigil_detector_count *det, size_t ndet)
{
    return st ? stats_record(ts_us, st, det, ndet) : NULL;
}

/* ---- as an output sink ---------------------------------------------- */

static int eve_sink_alert(void *self, const struct vigil_alert_event *ev)
{
    return vigil_eve_write_alert(self, ev);
}

static int eve_sink_stats(void *self, int64_t ts_us, const struct vigil_stats *st,
                          const struct vigil_detector_count *det, size_t ndet)
{
    return vigil_eve_write_stats(self, ts_us, st, det, ndet);
}

static int eve_sink_close(void *self)
{
    return vigil_eve_close(self);
}

/*
 * After a rotation (mv eve.json eve.json.1; kill -HUP): records are written
 * whole, so between two calls no line is half written; continue at the end
 * of a fresh file (records held in memory go there). When the path cannot
 * be opened, keep writing the old file and say so.
 */
static int eve_sink_reopen(void *self)
{
    struct vigil_eve *eve = self;
    return vigil_recfile_reopen(eve->rf);
}

static void eve_sink_tick(void *self)
{
    vigil_eve_tick(self);
}

static void eve_sink_report(void *self, struct vigil_stats *st)
{
    vigil_eve_counters(self, &st->eve_output);
}

int vigil_output_open_eve(const char *path, const struct vigil_output_env *env,
                          struct vigil_output *out, char *err, size_t errlen)
{
    int64_t kb = VIGIL_EVE_BACKLOG_DEFAULT / 1024;
    if (env && env->cfg &&
        vigil_config_int(env->cfg, "vigil", "eve_backlog_kb", kb, 0, 1 << 20, &kb, err,
                         errlen) < 0)
        return -1;
    struct vigil_eve *eve = vigil_eve_open_backlog(path, (size_t)kb * 1024, err, errlen);
    if (eve == NULL)
        return -1;
    *out = (struct vigil_output){
        .name = "eve",
        .self = eve,
        .alert = eve_sink_alert,
        .stats = eve_sink_stats,
        .close = eve_sink_close,
        .reopen = eve_sink_reopen,
        .tick = eve_sink_tick,
        .report = eve_sink_report,
    };
    return 0;
}
