/* log.c - diagnostics on stderr. */
#include <stdio.h>
#include <string.h>

#include "log.h"

void vigil_verr(const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    /* One write per line, so concurrent writers never interleave. */
    fprintf(stderr, "vigil: %s\n", line);
}

void vigil_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vigil_verr(fmt, ap);
    va_end(ap);
}

void vigil_seterr(char *buf, size_t len, const char *fmt, ...)
{
    if (buf == NULL || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}
