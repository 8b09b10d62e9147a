/* bad_config.c - refuses to start when its setting is out of range. */
#include "vigil/plugin.h"

static int bad_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    int64_t v;
    *state = NULL;
    return host->config_int(ctx, "level", 5, 0, 10, &v);
}

static const vigil_plugin bad_plugin = {
    VIGIL_PLUGIN_HEADER,
    .name = "bad_config",
    .version = "1.0",
    .init = bad_init,
};

const vigil_plugin *vigil_plugin_entry(void)
{
    return &bad_plugin;
}
