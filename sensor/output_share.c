/*
 * output_share.c - the "stix" and "misp" file sinks: one STIX 2.1 bundle
 * (or one MISP event) per line, for alerts the sharing policy lets out at
 * the sink's maximum TLP ([sharing] stix.max_tlp, misp.max_tlp).
 *
 * Each line is serialised whole and written with one fwrite + fflush, so
 * a reader never sees half a record.
 */
#include "share.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"

struct share_sink {
    const char *kind;           /* "stix" or "misp" */
    struct vigil_share *share;
    char max_tlp[16];
    FILE *fp;
    int owned;
    uint64_t written, withheld, failed;
    int first_errno;
};

static int sink_alert(void *self, const struct vigil_alert_event *ev)
{
    struct share_sink *k = self;
    json_t *j;

    if (!vigil_share_allowed(k->share, ev, k->max_tlp)) {
        k->withheld++;
        return 0;
    }
    if (strcmp(k->kind, "stix") == 0)
        j = vigil_share_stix_bundle(k->share, ev, k->max_tlp);
    else
        j = vigil_share_misp_event(k->share, ev, k->max_tlp);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!text) {
        k->failed++;
        return -1;
    }
    size_t n = strlen(text);
    text[n] = '\n';     /* json_dumps' NUL becomes the newline; write n + 1 */
    int ok = fwrite(text, 1, n + 1, k->fp) == n + 1 && fflush(k->fp) == 0;
    free(text);
    if (!ok) {
        if (!k->first_errno)
            k->first_errno = errno ? errno : EIO;
        k->failed++;
        return -1;
    }
    k->written++;
    return 0;
}

static int sink_close(void *self)
{
    struct share_sink *k = self;
    int rc = 0;

    if (!k)
        return 0;
    if (k->fp && fflush(k->fp) != 0) {
        if (!k->first_errno)
            k->first_errno = errno;
        k->failed++;
    }
    if (k->owned && k->fp && fclose(k->fp) != 0) {
        if (!k->first_errno)
            k->first_errno = errno;
        k->failed++;
    }
    if (k->failed) {
        vigil_err("%s output: %llu record(s) not written%s%s", k->kind,
                  (unsigned long long)k->failed, k->first_errno ? ": " : "",
                  k->first_errno ? strerror(k->first_errno) : "");
        rc = -1;
    }
    vigil_share_free(k->share);
    free(k);
    return rc;
}

static int open_sink(const char *kind, const char *target, const struct vigil_output_env *env,
                     struct vigil_output *out, char *err, size_t errlen)
{
    struct share_sink *k = calloc(1, sizeof *k);
    char why[1024];

    if (!k) {
        vigil_seterr(err, errlen, "out of memory");
        return -1;
    }
    k->kind = kind;
    k->share = vigil_share_new(env, why, sizeof why);
    if (!k->share) {
        vigil_seterr(err, errlen, "%s output: %s", kind, why);
        free(k);
        return -1;
    }
    snprintf(k->max_tlp, sizeof k->max_tlp, "%s", vigil_share_max_tlp(k->share, kind));
    if (!target || strcmp(target, "-") == 0) {
        k->fp = stdout;
    } else {
        k->fp = fopen(target, "ae");
        if (!k->fp) {
            vigil_seterr(err, errlen, "%s output %s: %s", kind, target, strerror(errno));
            vigil_share_free(k->share);
            free(k);
            return -1;
        }
        k->owned = 1;
    }
    out->name = kind;
    out->self = k;
    out->alert = sink_alert;
    out->stats = NULL;
    out->close = sink_close;
    return 0;
}

int vigil_output_open_stix(const char *target, const struct vigil_output_env *env,
                           struct vigil_output *out, char *err, size_t errlen)
{
    return open_sink("stix", target, env, out, err, errlen);
}

int vigil_output_open_misp(const char *target, const struct vigil_output_env *env,
                           struct vigil_output *out, char *err, size_t errlen)
{
    return open_sink("misp", target, env, out, err, errlen);
}
