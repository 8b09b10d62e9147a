/* fuzz_config.c - the settings parser on arbitrary text. */
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vigil_config cfg;
    vigil_config_init(&cfg);
    char err[512];
    if (vigil_config_parse(&cfg, "fuzz.conf", (const char *)data, size, err, sizeof err) == 0) {
        int64_t v;
        for (size_t i = 0; i < cfg.count; i++)
            vigil_config_int(&cfg, cfg.entries[i].section, cfg.entries[i].key, 0,
                             INT64_MIN, INT64_MAX, &v, err, sizeof err);
    } else if (strchr(err, ':') == NULL) {
        __builtin_trap();   /* an error always names file and line */
    }
    vigil_config_free(&cfg);
    return 0;
}
