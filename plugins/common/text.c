/*
 * text.c - addresses and times as alert text.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>

#include "vgp.h"

void vgp_format_addr(const vigil_addr *a, char *buf, size_t len)
{
    if (a->family == 4) {
        snprintf(buf, len, "%u.%u.%u.%u", a->bytes[0], a->bytes[1], a->bytes[2], a->bytes[3]);
        return;
    }
    size_t used = 0;
    for (int i = 0; i < 16 && used < len; i += 2) {
        int w = snprintf(buf + used, len - used, "%s%x", i ? ":" : "",
                         (unsigned)(a->bytes[i] << 8 | a->bytes[i + 1]));
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

void vgp_addr_ntop(const vigil_addr *a, char *buf, size_t len)
{
    if (inet_ntop(a->family == 6 ? AF_INET6 : AF_INET, a->bytes, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
}

void vgp_format_ts(int64_t us, char *buf, size_t len)
{
    int64_t sec = us / VGP_US_PER_SEC, frac = us % VGP_US_PER_SEC;
    if (frac < 0) {
        sec--;
        frac += VGP_US_PER_SEC;
    }
    snprintf(buf, len, "%" PRId64 ".%06" PRId64, sec, frac);
}
