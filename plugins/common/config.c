/*
 * config.c - integer settings from a table of knobs, hash keys.
 */
#include <unistd.h>

#include "vgp.h"

int vgp_read_knobs(vigil_ctx *ctx, const vigil_host_api *host, const struct vgp_knob *knobs,
                   size_t n, void *cfg)
{
    for (size_t i = 0; i < n; i++) {
        const struct vgp_knob *k = &knobs[i];
        int64_t v;
        if (host->config_int(ctx, k->key, k->def, k->min, k->max, &v) != VIGIL_OK)
            return VIGIL_EINVAL;
        v *= k->scale;
        memcpy((char *)cfg + k->offset, &v, sizeof v);
    }
    return VIGIL_OK;
}

uint64_t vgp_random_key(uint64_t fallback)
{
    uint64_t key = fallback;
    if (getentropy(&key, sizeof key) != 0)
        key = fallback;
    return key;
}
