/* outputs.h - open a sink by kind ("eve", ...) and target (a path, a URL). */
#ifndef VIGIL_OUTPUTS_H
#define VIGIL_OUTPUTS_H

#include <stddef.h>

#include "output.h"

struct vigil_output_spec {
    const char *kind;
    const char *target;
};

int vigil_outputs_open(const char *kind, const char *target,
                       const struct vigil_output_env *env, struct vigil_output *out,
                       char *err, size_t errlen);

#endif
