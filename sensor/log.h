/* log.h - one-line diagnostics on stderr, always prefixed "vigil: ". */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stdarg.h>

#if defined(__GNUC__)
#define VIGIL_FMT(f, a) __attribute__((format(printf, f, a)))
#else
#define VIGIL_FMT(f, a)
#endif

/* Print "vigil: <message>\n" to stderr. */
void vigil_err(const char *fmt, ...) VIGIL_FMT(1, 2);
void vigil_verr(const char *fmt, va_list ap) VIGIL_FMT(1, 0);

/* snprintf into an error buffer (never NULL-terminated short). */
void vigil_seterr(char *buf, size_t len, const char *fmt, ...) VIGIL_FMT(3, 4);

#endif
