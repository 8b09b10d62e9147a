/*
 * misp.h - one alert as a MISP event (MISP core format, MISP/misp-rfc
 * misp-core-format; network-connection object template
 * af16764b-f8e5-4603-9de1-de34d272f80b v3 from MISP/misp-objects; TLP tags
 * from the MISP tlp taxonomy; ATT&CK galaxy tags).
 *
 * Input is the alert after the sharing policy (share.c): addresses are
 * already clear, pseudonymised or absent; strings are already scrubbed.
 */
#ifndef VIGIL_MISP_H
#define VIGIL_MISP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct vigil_misp_input {
    const char *key;            /* what the deterministic uuids are made of */
    const char *sensor;
    const char *detector;
    const char *tlp;            /* "clear" ... "red" */
    const char *signature, *category, *evidence;
    uint32_t severity;          /* 1 (highest) .. 4 */
    int64_t ts_us, first_us, last_us;
    const char *src, *dst;      /* NULL when withheld */
    int src_anon, dst_anon;     /* pseudonyms */
    uint8_t proto;
    uint16_t sport, dport;      /* 0 when not meaningful */
    const char *community_id;   /* "" when not shared */
    const char *tech[8];
    size_t ntech;
};

/* {"Event": {...}}; NULL on failure. */
json_t *vigil_misp_event(const struct vigil_misp_input *in);

/* MISP distribution for a TLP: clear "3" (all), green "2" (connected
 * communities), amber "1" (this community), amber+strict and red "0"
 * (your organisation only). */
const char *vigil_misp_distribution(const char *tlp);

#endif
