/* no_entry.c - a shared object without the vigil_plugin_entry symbol. */
#include "vigil/plugin.h"

VIGIL_EXPORT int not_a_plugin(void);

int not_a_plugin(void)
{
    return 42;
}
