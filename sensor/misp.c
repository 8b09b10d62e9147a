/*
 * misp.c - build a MISP event for one alert (misp.h).
 */
#include "misp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stix.h"

#define NETCONN_TEMPLATE "af16764b-f8e5-4603-9de1-de34d272f80b"

const char *vigil_misp_distribution(const char *tlp)
{
    switch (vigil_tlp_parse(tlp)) {
    case VIGIL_TLP_CLEAR: return "3";
    case VIGIL_TLP_GREEN: return "2";
    case VIGIL_TLP_AMBER: return "1";
    default: return "0";
    }
}

static void uuid_for(const struct vigil_misp_input *in, const char *what, char out[37])
{
    char name[1200];
    int n = snprintf(name, sizeof name, "misp\x1f%s\x1f%s", what, in->key);

    vigil_uuid5(vigil_stix_producer_namespace, name,
                n > 0 && (size_t)n < sizeof name ? (size_t)n : sizeof name - 1, out);
}

/* MISP datetime: 2025-05-14T09:30:41.250000+00:00 */
static void misp_time(int64_t us, char *buf, size_t len)
{
    int64_t s = us / 1000000, f = us % 1000000;
    if (f < 0) {
        f += 1000000;
        s--;
    }
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, len, "1970-01-01T00:00:00.000000+00:00");
        return;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)f);
}

static json_t *attribute(const struct vigil_misp_input *in, const char *what,
                         const char *relation, const char *type, const char *category,
                         const char *value, int to_ids, const char *comment)
{
    char uuid[37];

    uuid_for(in, what, uuid);
    json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "uuid", uuid, "type", type,
                          "category", category, "value", value, "to_ids", to_ids,
                          "distribution", "5");
    if (!a)
        return NULL;
    if (relation && json_object_set_new(a, "object_relation", json_string(relation)) < 0)
        goto fail;
    if (comment && *comment && json_object_set_new(a, "comment", json_string(comment)) < 0)
        goto fail;
    return a;
fail:
    json_decref(a);
    return NULL;
}

static int add(json_t *arr, json_t *o)
{
    return o ? json_array_append_new(arr, o) : -1;
}

static const char *l4_text(uint8_t proto)
{
    switch (proto) {
    case 1: return "ICMP";
    case 6: return "TCP";
    case 17: return "UDP";
    case 58: return "ICMPv6";
    case 132: return "SCTP";
    default: return NULL;
    }
}

#define PSEUDONYM "Crypto-PAn pseudonym of an address inside the reporting network"

json_t *vigil_misp_event(const struct vigil_misp_input *in)
{
    char uuid[37], info[256], date[16], ts[24], first[96], last[96], buf[64];
    json_t *ev = NULL, *tags, *attrs, *oattrs, *obj, *sight_target = NULL;
    int err = 0;
    int64_t sec = in->ts_us / 1000000;
    time_t t = (time_t)sec;
    struct tm tm;

    if (!gmtime_r(&t, &tm))
        return NULL;
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    snprintf(ts, sizeof ts, "%" PRId64, sec);
    misp_time(in->first_us, first, sizeof first);
    misp_time(in->last_us, last, sizeof last);

    /* info: at most 255 bytes, no newline (the RFC: <= 256, one line) */
    snprintf(info, sizeof info, "%s%s%s (%s)", in->signature, in->src ? " from " : "",
             in->src ? in->src : "", in->sensor);
    for (char *p = info; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    /* do not leave half a UTF-8 sequence at a cut */
    size_t il = strlen(info);
    if (il == sizeof info - 1) {
        while (il > 0 && ((unsigned char)info[il - 1] & 0xc0) == 0x80)
            il--;
        if (il > 0 && ((unsigned char)info[il - 1] & 0x80))
            il--;
        info[il] = '\0';
    }

    const char *threat = in->severity == 1 ? "1" : in->severity == 2 ? "2" : "3";
    uuid_for(in, "event", uuid);
    ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "uuid", uuid, "info", info,
                   "date", date, "timestamp", ts, "threat_level_id", threat, "analysis", "0",
                   "distribution", vigil_misp_distribution(in->tlp), "published", 0);
    tags = json_array();
    attrs = json_array();
    oattrs = json_array();
    if (!ev || !tags || !attrs || !oattrs) {
        json_decref(tags);
        json_decref(attrs);
        json_decref(oattrs);
        json_decref(ev);
        return NULL;
    }
    err |= json_object_set_new(ev, "Tag", tags);
    err |= json_object_set_new(ev, "Attribute", attrs);

    snprintf(buf, sizeof buf, "tlp:%s", in->tlp);
    err |= add(tags, json_pack("{s:s}", "name", buf));
    for (size_t i = 0; i < in->ntech; i++) {
        char tag[256];
        const char *name = vigil_attack_name(in->tech[i]);
        if (name)
            snprintf(tag, sizeof tag, "misp-galaxy:mitre-attack-pattern=\"%s - %s\"", name,
                     in->tech[i]);
        else
            snprintf(tag, sizeof tag, "misp-galaxy:mitre-attack-pattern=\"%s\"", in->tech[i]);
        err |= add(tags, json_pack("{s:s}", "name", tag));
    }

    /* event attributes: the addresses, the evidence */
    if (in->src) {
        json_t *a = attribute(in, "attr-ip-src", NULL, "ip-src", "Network activity", in->src,
                              !in->src_anon, in->src_anon ? PSEUDONYM : "attacker");
        if (a) {
            err |= json_object_set_new(a, "first_seen", json_string(first));
            err |= json_object_set_new(a, "last_seen", json_string(last));
        }
        sight_target = a;
        err |= add(attrs, a);
    }
    if (in->dst) {
        json_t *a = attribute(in, "attr-ip-dst", NULL, "ip-dst", "Network activity", in->dst,
                              0, in->dst_anon ? PSEUDONYM : "target");
        if (!sight_target)
            sight_target = a;
        err |= add(attrs, a);
    }
    {
        char text[2048];
        snprintf(text, sizeof text, "detector %s, severity %u%s%s%s%s", in->detector,
                 (unsigned)in->severity, *in->category ? ", category: " : "", in->category,
                 *in->evidence ? ". Evidence: " : "", in->evidence);
        err |= add(attrs, attribute(in, "attr-comment", NULL, "comment", "Other", text, 0,
                                    NULL));
    }
    /* a sighting of the attacker (or the only address) by this sensor */
    if (sight_target) {
        char su[37];
        uuid_for(in, "sighting", su);
        err |= json_object_set_new(sight_target, "Sighting",
                                   json_pack("[{s:s, s:s, s:s, s:s}]", "uuid", su, "type", "0",
                                             "date_sighting", ts, "source", in->sensor));
    }

    /* network-connection object */
    if (in->src)
        err |= add(oattrs, attribute(in, "obj-ip-src", "ip-src", "ip-src", "Network activity",
                                     in->src, !in->src_anon,
                                     in->src_anon ? PSEUDONYM : NULL));
    if (in->dst)
        err |= add(oattrs, attribute(in, "obj-ip-dst", "ip-dst", "ip-dst", "Network activity",
                                     in->dst, 0, in->dst_anon ? PSEUDONYM : NULL));
    if (in->sport) {
        snprintf(buf, sizeof buf, "%u", (unsigned)in->sport);
        err |= add(oattrs, attribute(in, "obj-src-port", "src-port", "port",
                                     "Network activity", buf, 0, NULL));
    }
    if (in->dport) {
        snprintf(buf, sizeof buf, "%u", (unsigned)in->dport);
        err |= add(oattrs, attribute(in, "obj-dst-port", "dst-port", "port",
                                     "Network activity", buf, 0, NULL));
    }
    err |= add(oattrs, attribute(in, "obj-l3", "layer3-protocol", "text", "Other", "IP", 0,
                                 NULL));
    if (l4_text(in->proto))
        err |= add(oattrs, attribute(in, "obj-l4", "layer4-protocol", "text", "Other",
                                     l4_text(in->proto), 0, NULL));
    err |= add(oattrs, attribute(in, "obj-first", "first-packet-seen", "datetime", "Other",
                                 first, 0, NULL));
    if (in->community_id && *in->community_id)
        err |= add(oattrs, attribute(in, "obj-cid", "community-id", "community-id",
                                     "Network activity", in->community_id, 0, NULL));
    uuid_for(in, "object", uuid);
    obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "uuid", uuid, "name",
                    "network-connection", "meta-category", "network", "description",
                    "A local or remote network connection.", "template_uuid",
                    NETCONN_TEMPLATE, "template_version", "3", "distribution", "5",
                    "timestamp", ts, "Attribute", oattrs);
    if (!obj)
        err = -1;
    err |= json_object_set_new(ev, "Object", json_pack("[o]", obj));

    if (err) {
        json_decref(ev);
        return NULL;
    }
    return json_pack("{s:o}", "Event", ev);
}
