/*
 * stix.c - STIX 2.1 identifiers, timestamps and fixed objects (stix.h).
 */
#include "stix.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uuid/uuid.h>

/* STIX 2.1 section 2.9: 00abedb4-aa42-466c-9c01-fed23315a9b7. */
const uint8_t vigil_stix_sco_namespace[16] = {
    0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c,
    0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7,
};

/* Ours (a random v4 UUID chosen once): 8383485a-f9b9-4cf4-80f5-6df40980216e. */
const uint8_t vigil_stix_producer_namespace[16] = {
    0x83, 0x83, 0x48, 0x5a, 0xf9, 0xb9, 0x4c, 0xf4,
    0x80, 0xf5, 0x6d, 0xf4, 0x09, 0x80, 0x21, 0x6e,
};

void vigil_uuid5(const uint8_t ns[16], const void *name, size_t len, char out[37])
{
    uuid_t u, nsu;

    memcpy(nsu, ns, 16);
    uuid_generate_sha1(u, nsu, name, len);
    uuid_unparse_lower(u, out);
}

#define TS_MIN_US INT64_C(-62167219200000000)   /* 0000-01-01T00:00:00 */
#define TS_MAX_US INT64_C(253402300799999999)   /* 9999-12-31T23:59:59.999999 */

int vigil_stix_ts(int64_t ts_us, char *buf, size_t len)
{
    struct tm tm;
    time_t sec;
    int64_t s, frac;

    if (!buf || len < 25)
        return -1;
    if (ts_us < TS_MIN_US)
        ts_us = TS_MIN_US;
    if (ts_us > TS_MAX_US)
        ts_us = TS_MAX_US;
    s = ts_us / 1000000;
    frac = ts_us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        s--;
    }
    sec = (time_t)s;
    if (!gmtime_r(&sec, &tm))
        return -1;
    int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(frac / 1000));
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int vigil_stix_sco_id(const char *type, const json_t *contrib, char *out, size_t len)
{
    char uuid[37];
    char *canon = json_dumps(contrib, JSON_COMPACT | JSON_SORT_KEYS);

    if (!canon)
        return -1;
    vigil_uuid5(vigil_stix_sco_namespace, canon, strlen(canon), uuid);
    free(canon);
    int n = snprintf(out, len, "%s--%s", type, uuid);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

void vigil_stix_sdo_id(const char *type, const char *name, char *out, size_t len)
{
    char uuid[37];

    vigil_uuid5(vigil_stix_producer_namespace, name, strlen(name), uuid);
    snprintf(out, len, "%s--%s", type, uuid);
}

/* ---- TLP 2.0 (OASIS cti-stix-common-objects, tlp-2.0 extension) -------- */

#define TLP2_EXTENSION "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

static const struct {
    const char *id, *name, *value;
} tlp2[] = {
    [VIGIL_TLP_CLEAR] = { "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
                          "TLP:CLEAR", "clear" },
    [VIGIL_TLP_GREEN] = { "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
                          "TLP:GREEN", "green" },
    [VIGIL_TLP_AMBER] = { "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
                          "TLP:AMBER", "amber" },
    [VIGIL_TLP_AMBER_STRICT] = { "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
                                 "TLP:AMBER+STRICT", "amber+strict" },
    [VIGIL_TLP_RED] = { "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
                        "TLP:RED", "red" },
};

const char *vigil_stix_tlp_marking_id(enum vigil_tlp t)
{
    if ((unsigned)t > VIGIL_TLP_RED)
        t = VIGIL_TLP_RED;
    return tlp2[t].id;
}

json_t *vigil_stix_tlp_marking(enum vigil_tlp t)
{
    if ((unsigned)t > VIGIL_TLP_RED)
        t = VIGIL_TLP_RED;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:{s:s, s:s}}}",
                     "type", "marking-definition",
                     "spec_version", "2.1",
                     "id", tlp2[t].id,
                     "created", "2022-10-01T00:00:00.000Z",
                     "name", tlp2[t].name,
                     "extensions", TLP2_EXTENSION,
                     "extension_type", "property-extension",
                     "tlp_2_0", tlp2[t].value);
}

/* ---- addresses ------------------------------------------------------ */

int vigil_addr_text(const vigil_addr *a, char *buf, size_t len)
{
    if (a->family == 4)
        return inet_ntop(AF_INET, a->bytes, buf, (socklen_t)len) ? 0 : -1;
    if (a->family == 6)
        return inet_ntop(AF_INET6, a->bytes, buf, (socklen_t)len) ? 0 : -1;
    return -1;
}

json_t *vigil_stix_addr_sco(int family, const char *text, char *id, size_t idlen)
{
    const char *type = family == 6 ? "ipv6-addr" : "ipv4-addr";
    json_t *contrib = json_pack("{s:s}", "value", text);

    if (!contrib)
        return NULL;
    int rc = vigil_stix_sco_id(type, contrib, id, idlen);
    json_decref(contrib);
    if (rc < 0)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s}", "type", type, "spec_version", "2.1",
                     "id", id, "value", text);
}

/* ---- ATT&CK --------------------------------------------------------- */

/* Names as published by MITRE ATT&CK (attack.mitre.org) for the techniques
 * our detectors report; anything else is shared by id alone. */
static const struct {
    const char *id, *name;
} attack_names[] = {
    { "T1018", "Remote System Discovery" },
    { "T1046", "Network Service Discovery" },
    { "T1048", "Exfiltration Over Alternative Protocol" },
    { "T1071", "Application Layer Protocol" },
    { "T1071.004", "DNS" },
    { "T1110", "Brute Force" },
    { "T1110.001", "Password Guessing" },
    { "T1110.003", "Password Spraying" },
    { "T1498", "Network Denial of Service" },
    { "T1498.001", "Direct Network Flood" },
    { "T1498.002", "Reflection Amplification" },
    { "T1499", "Endpoint Denial of Service" },
    { "T1499.002", "Service Exhaustion Flood" },
    { "T1557", "Adversary-in-the-Middle" },
    { "T1557.002", "ARP Cache Poisoning" },
    { "T1568", "Dynamic Resolution" },
    { "T1568.002", "Domain Generation Algorithms" },
    { "T1571", "Non-Standard Port" },
    { "T1595", "Active Scanning" },
    { "T1595.001", "Scanning IP Blocks" },
    { "T1595.002", "Vulnerability Scanning" },
};

const char *vigil_attack_name(const char *tid)
{
    for (size_t i = 0; i < sizeof attack_names / sizeof attack_names[0]; i++)
        if (strcmp(attack_names[i].id, tid) == 0)
            return attack_names[i].name;
    return NULL;
}

int vigil_attack_id_valid(const char *tid)
{
    size_t n = strlen(tid);

    if (n != 5 && n != 9)
        return 0;
    if (tid[0] != 'T')
        return 0;
    for (size_t i = 1; i < 5; i++)
        if (!isdigit((unsigned char)tid[i]))
            return 0;
    if (n == 9) {
        if (tid[5] != '.')
            return 0;
        for (size_t i = 6; i < 9; i++)
            if (!isdigit((unsigned char)tid[i]))
                return 0;
    }
    return 1;
}

void vigil_attack_url(const char *tid, char *buf, size_t len)
{
    if (strlen(tid) == 9)
        snprintf(buf, len, "https://attack.mitre.org/techniques/%.5s/%s/", tid, tid + 6);
    else
        snprintf(buf, len, "https://attack.mitre.org/techniques/%s/", tid);
}
