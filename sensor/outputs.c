/* outputs.c - the table of sink kinds, by the name the command line uses. */
#include <string.h>

#include "log.h"
#include "output.h"
#include "outputs.h"
#include "redis_out.h"
#include "share.h"
#include "taxii.h"

typedef int (*open_fn)(const char *target, const struct vigil_output_env *env,
                       struct vigil_output *out, char *err, size_t errlen);

static const struct {
    const char *kind;
    open_fn open;
} sink_kinds[] = {
    { "eve", vigil_output_open_eve },
    { "redis", vigil_output_open_redis },
    { "stix", vigil_output_open_stix },
    { "misp", vigil_output_open_misp },
    { "taxii", vigil_output_open_taxii },
};

int vigil_outputs_open(const char *kind, const char *target,
                       const struct vigil_output_env *env, struct vigil_output *out,
                       char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof sink_kinds / sizeof sink_kinds[0]; i++)
        if (strcmp(sink_kinds[i].kind, kind) == 0)
            return sink_kinds[i].open(target, env, out, err, errlen);
    vigil_seterr(err, errlen, "unknown output kind '%s'", kind);
    return -1;
}
