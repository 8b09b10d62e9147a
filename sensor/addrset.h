/*
 * addrset.h - sets of IPv4/IPv6 networks written as text, e.g.
 * "198.18.0.0/15, 2001:db8::/32 10.1.2.3" (commas or spaces between items),
 * as used by home_net and the allow lists in the settings files.
 */
#ifndef VIGIL_ADDRSET_H
#define VIGIL_ADDRSET_H

#include <stddef.h>

#include "vigil/plugin.h"

#define VIGIL_ADDRSET_MAX 1024

struct vigil_net {
    vigil_addr net;             /* masked */
    unsigned prefix;            /* bits */
};

struct vigil_addrset {
    struct vigil_net *nets;
    size_t count;
};

/* Parse text into *set. 0, or -1 with the offending item in err. */
int vigil_addrset_parse(struct vigil_addrset *set, const char *text, char *err,
                        size_t errlen);
void vigil_addrset_free(struct vigil_addrset *set);

/* 1 when a lies in one of the networks, else 0. */
int vigil_addrset_contains(const struct vigil_addrset *set, const vigil_addr *a);

#endif
