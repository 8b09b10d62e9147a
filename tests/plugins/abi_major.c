/* abi_major.c - a plugin built for a future, incompatible ABI. */
#include "vigil/plugin.h"

static const vigil_plugin future_plugin = {
    .size = sizeof(vigil_plugin),
    .abi_major = VIGIL_ABI_MAJOR + 98,
    .abi_minor = 3,
    .name = "future",
};

const vigil_plugin *vigil_plugin_entry(void)
{
    return &future_plugin;
}
