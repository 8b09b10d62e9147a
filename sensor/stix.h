/*
 * stix.h - STIX 2.1 building blocks for share.c: identifiers, timestamps,
 * TLP 2.0 marking definitions, address SCOs, ATT&CK technique names.
 *
 * Spec: STIX Version 2.1, OASIS Standard (2021), sections 2.9 (identifiers),
 * 3.2 (timestamps), 6.8/6.9/6.12 (SCOs), 7.2.1 (markings); TLP 2.0 marking
 * definitions from the OASIS cti-stix-common-objects TLP 2.0 extension.
 */
#ifndef VIGIL_STIX_H
#define VIGIL_STIX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "share.h"
#include "vigil/plugin.h"

/* "type--" + 36 characters of UUID + NUL fits in this for every type we use. */
#define VIGIL_STIX_ID_LEN 96
#define VIGIL_STIX_TS_LEN 32

/* The namespace of STIX SCO ids (spec 2.9). */
extern const uint8_t vigil_stix_sco_namespace[16];
/* Our producer namespace for SDO/SRO/bundle ids (never the SCO one). */
extern const uint8_t vigil_stix_producer_namespace[16];

/* UUIDv5 of name (len bytes) in namespace ns, lowercase text (37 bytes). */
void vigil_uuid5(const uint8_t ns[16], const void *name, size_t len, char out[37]);

/*
 * A STIX timestamp with millisecond precision, UTC and "Z":
 * 2023-11-14T22:13:20.123Z (microseconds are truncated). Years are
 * clamped to 0000..9999. Returns 0, or -1 when buf is too small.
 */
int vigil_stix_ts(int64_t ts_us, char *buf, size_t len);

/*
 * The deterministic id of an SCO: "type--" + UUIDv5(SCO namespace,
 * RFC 8785 canonical JSON of contrib, the object holding only the
 * ID-contributing properties). Valid for objects of ASCII keys, strings,
 * integers, arrays and objects (jansson compact + sorted keys is then
 * RFC 8785). 0, or -1.
 */
int vigil_stix_sco_id(const char *type, const json_t *contrib, char *out, size_t len);

/* "type--" + UUIDv5(producer namespace, name). */
void vigil_stix_sdo_id(const char *type, const char *name, char *out, size_t len);

/* The TLP 2.0 marking-definition object / id for a level. */
json_t *vigil_stix_tlp_marking(enum vigil_tlp t);
const char *vigil_stix_tlp_marking_id(enum vigil_tlp t);

/* Address as text (inet_ntop); 0, or -1 when the family is neither 4 nor 6. */
int vigil_addr_text(const vigil_addr *a, char *buf, size_t len);

/*
 * An ipv4-addr / ipv6-addr SCO for the address text (family 4 or 6), with
 * its id copied to id (VIGIL_STIX_ID_LEN). NULL on failure.
 */
json_t *vigil_stix_addr_sco(int family, const char *text, char *id, size_t idlen);

/* The ATT&CK name of a technique id ("T1046" -> "Network Service
 * Discovery"), or NULL when this table does not know it. */
const char *vigil_attack_name(const char *tid);

/* "https://attack.mitre.org/techniques/T1110/001/" for "T1110.001". */
void vigil_attack_url(const char *tid, char *buf, size_t len);

/* 1 when tid looks like an ATT&CK technique id: T + 4 digits [+ .3 digits]. */
int vigil_attack_id_valid(const char *tid);

#endif
