/* too_small.c - a descriptor that claims fewer bytes than ABI 1 needs. */
#include <stddef.h>

#include "vigil/plugin.h"

static const vigil_plugin small_plugin = {
    .size = (uint32_t)offsetof(vigil_plugin, description),
    .abi_major = VIGIL_ABI_MAJOR,
    .abi_minor = VIGIL_ABI_MINOR,
    .name = "small",
};

const vigil_plugin *vigil_plugin_entry(void)
{
    return &small_plugin;
}
