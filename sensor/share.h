/*
 * share.h - alerts shared with other organisations: the sharing policy
 * (TLP, customer-address treatment, evidence allowed) and the formats it
 * produces (a STIX 2.1 bundle, a MISP event), plus the "stix" and "misp"
 * file sinks. Settings: [sharing] in the rules directory (rules/sharing.conf,
 * docs/sharing.md).
 *
 * Privacy contract: an address inside home_net (a customer: the victim, or
 * an internal attacker) never appears in a returned object in the clear
 * unless the policy says "keep"; with "omit" it is left out (and every
 * reference to it with it), with "anonymize" it is replaced by its
 * Crypto-PAn pseudonym. Evidence strings (alert meta values) are shared
 * only for an allow-list of numeric keys unless payload_excerpts = 1.
 *
 * Output is deterministic: the same alert (packet time included) always
 * gives byte-identical objects, so a replay can be compared.
 */
#ifndef VIGIL_SHARE_H
#define VIGIL_SHARE_H

#include <stddef.h>

#include <jansson.h>

#include "eve.h"
#include "output.h"

/* TLP 2.0 levels, in order of increasing restriction. */
enum vigil_tlp {
    VIGIL_TLP_CLEAR = 0,
    VIGIL_TLP_GREEN = 1,
    VIGIL_TLP_AMBER = 2,
    VIGIL_TLP_AMBER_STRICT = 3,
    VIGIL_TLP_RED = 4,
};

/* HOME_NET addresses in shared objects. */
enum vigil_share_home {
    VIGIL_SHARE_OMIT = 0,
    VIGIL_SHARE_ANONYMIZE = 1,
    VIGIL_SHARE_KEEP = 2,
};

struct vigil_share;

/*
 * Read [sharing] from env->cfg (every key documented in rules/sharing.conf)
 * and build the policy. NULL with the reason ("file:line: key: why" when a
 * setting is at fault) in err. env->home_net and env->sensor_name are
 * borrowed and must outlive the policy; env->cfg may be NULL (all defaults;
 * the default policy then refuses to start: anonymize needs a key file).
 */
struct vigil_share *vigil_share_new(const struct vigil_output_env *env, char *err,
                                    size_t errlen);
void vigil_share_free(struct vigil_share *s);

/*
 * A STIX 2.1 bundle for one alert with the policy applied, or NULL when the
 * alert is not shared at max_tlp (its TLP is above what the destination may
 * receive; max_tlp NULL means "amber") or could not be built. New reference.
 */
json_t *vigil_share_stix_bundle(struct vigil_share *s, const struct vigil_alert_event *ev,
                                const char *max_tlp);

/* One MISP event ({"Event": {...}}) for one alert; same rules. New reference. */
json_t *vigil_share_misp_event(struct vigil_share *s, const struct vigil_alert_event *ev,
                               const char *max_tlp);

/*
 * 1 when the alert would be shared at max_tlp (TLP allows it and something
 * is left once the policy is applied), else 0: a NULL from the builders
 * above with this 1 is a failure, with 0 a deliberate "not shared".
 */
int vigil_share_allowed(struct vigil_share *s, const struct vigil_alert_event *ev,
                        const char *max_tlp);

/*
 * The configured maximum TLP for a destination ("stix", "misp", "taxii":
 * the [sharing] keys stix.max_tlp, misp.max_tlp, taxii.max_tlp), as the
 * lowercase TLP 2.0 name ("clear" ... "red"); "amber" for anything else.
 */
const char *vigil_share_max_tlp(const struct vigil_share *s, const char *sink);

/* The TLP a detector's alerts carry (tlp.<detector> or tlp.default). */
enum vigil_tlp vigil_share_tlp_for(const struct vigil_share *s, const char *detector);

/* TLP name ("clear", "green", "amber", "amber+strict", "red"; also "white"
 * as clear, case-insensitive, optional "tlp:" prefix) -> level, or -1. */
int vigil_tlp_parse(const char *name);
/* Level -> lowercase TLP 2.0 name. */
const char *vigil_tlp_name(enum vigil_tlp t);

/* Sinks: target is a file (appended; "-" is stdout), one JSON per line. */
int vigil_output_open_stix(const char *target, const struct vigil_output_env *env,
                           struct vigil_output *out, char *err, size_t errlen);
int vigil_output_open_misp(const char *target, const struct vigil_output_env *env,
                           struct vigil_output *out, char *err, size_t errlen);

#endif
