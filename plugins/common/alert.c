/*
 * alert.c - an alert and its metadata built in place.
 */
#include <stdarg.h>
#include <stdio.h>

#include "vgp.h"

void vgp_alert_init(vgp_alert *x, size_t meta_max, size_t value_max)
{
    memset(&x->a, 0, sizeof x->a);
    x->a.size = sizeof x->a;
    x->a.gid = 1;
    x->a.rev = 1;
    x->meta_max = meta_max < VGP_META_MAX ? meta_max : VGP_META_MAX;
    x->value_max = value_max < VGP_META_VALUE_MAX ? value_max : VGP_META_VALUE_MAX;
}

void vgp_meta_add(vgp_alert *x, const char *key, const char *fmt, ...)
{
    size_t n = x->a.meta_count;
    if (n >= x->meta_max || x->value_max == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->value[n], x->value_max, fmt, ap);
    va_end(ap);
    x->meta[n].key = key;
    x->meta[n].value = x->value[n];
    x->a.meta_count = n + 1;
}

int vgp_alert_emit(vgp_alert *x, vigil_ctx *ctx, const vigil_host_api *host)
{
    x->a.meta = x->meta;
    return host->emit_alert(ctx, &x->a);
}
