/*
 * output_taxii.c - the "taxii" sink: each alert becomes a STIX 2.1 bundle
 * under the sharing policy (share.h), whose objects are spooled and pushed
 * to a TAXII 2.1 collection by the worker in taxii.c. Settings: [taxii]
 * (docs/sharing-taxii.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "share.h"
#include "taxii.h"

#define SECTION "taxii"
#define DEFAULT_SPOOL_DIR "/var/lib/vigil/taxii"
#define SECRET_MAX 4096

struct taxii_sink {
    struct vigil_taxii *taxii;
    struct vigil_share *share;
    const char *max_tlp;
    uint64_t withheld;
    char *username, *password, *token;
};

static const char *const known_keys[] = {
    "spool_dir", "spool_max_mb", "when_full", "sync_ms", "username", "password_file",
    "token_file", "ca_file", "insecure", "connect_timeout_sec", "timeout_sec",
    "status_timeout_sec", "retry_min_ms", "retry_max_sec", "drain_sec", "batch_records",
    "batch_kb", "spool_backlog_kb",
};

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void sink_free(struct taxii_sink *s)
{
    vigil_share_free(s->share);
    wipe_free(s->username);
    wipe_free(s->password);
    wipe_free(s->token);
    free(s);
}

/*
 * The first line of a secret file, which must be a regular file nobody but
 * its owner can read or write. NULL with the reason in err.
 */
static char *read_secret(const char *key, const struct vigil_config_entry *e, char *err,
                         size_t errlen)
{
    const char *path = e->value;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        vigil_seterr(err, errlen, "%s:%d: %s: %s: %s", e->file, e->line, key, path,
                     strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        vigil_seterr(err, errlen, "%s:%d: %s: %s is not a regular file", e->file, e->line, key,
                     path);
        close(fd);
        return NULL;
    }
    if (st.st_mode & 077) {
        vigil_seterr(err, errlen, "%s:%d: %s: %s is accessible by group or others (mode "
                     "%04o); refusing to use it: chmod 600 %s", e->file, e->line, key, path,
                     (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return NULL;
    }
    char *buf = calloc(1, SECRET_MAX + 1);
    ssize_t n = buf ? read(fd, buf, SECRET_MAX) : -1;
    close(fd);
    if (n < 0) {
        vigil_seterr(err, errlen, "%s: %s: %s", key, path, buf ? strerror(errno) : "no memory");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    size_t len = strlen(buf);
    while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
        buf[--len] = '\0';
    int ctrl = 0;
    for (size_t i = 0; i < len; i++)
        ctrl |= (unsigned char)buf[i] < 0x20 || buf[i] == 0x7f;
    if (len == 0 || ctrl) {
        vigil_seterr(err, errlen, "%s:%d: %s: %s is %s", e->file, e->line, key, path,
                     len == 0 ? "empty" : "not one line of text");
        explicit_bzero(buf, SECRET_MAX);
        free(buf);
        return NULL;
    }
    return buf;
}

static const char *setting(struct vigil_config *cfg, const char *key)
{
    struct vigil_config_entry *e = cfg ? vigil_config_find(cfg, SECTION, key) : NULL;
    return e ? e->value : NULL;
}

static int int_setting(struct vigil_config *cfg, const char *key, int64_t def, int64_t min,
                       int64_t max, int64_t *out, char *err, size_t errlen)
{
    if (cfg == NULL) {
        *out = def;
        return 0;
    }
    return vigil_config_int(cfg, SECTION, key, def, min, max, out, err, errlen);
}

/* A misspelt key in [taxii] would silently fall back to a default. */
static int check_keys(struct vigil_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; cfg && i < cfg->count; i++) {
        const struct vigil_config_entry *e = &cfg->entries[i];
        if (strcmp(e->section, SECTION) != 0)
            continue;
        int known = 0;
        for (size_t k = 0; k < sizeof known_keys / sizeof known_keys[0]; k++)
            known |= strcmp(e->key, known_keys[k]) == 0;
        if (!known) {
            vigil_seterr(err, errlen, "%s:%d: unknown setting '%s' in [%s]", e->file, e->line,
                         e->key, SECTION);
            return -1;
        }
    }
    return 0;
}

static int read_settings(struct taxii_sink *s, struct vigil_config *cfg,
                         struct vigil_taxii_options *o, char *err, size_t errlen)
{
    int64_t max_mb, sync_ms, insecure, cto, to, sto, rmin, rmax, drain, brec, bkb, mem_kb;
    if (check_keys(cfg, err, errlen) < 0 ||
        int_setting(cfg, "spool_max_mb", 256, 1, 1 << 20, &max_mb, err, errlen) < 0 ||
        int_setting(cfg, "sync_ms", 1000, 0, 60000, &sync_ms, err, errlen) < 0 ||
        int_setting(cfg, "insecure", 0, 0, 1, &insecure, err, errlen) < 0 ||
        int_setting(cfg, "connect_timeout_sec", 10, 1, 600, &cto, err, errlen) < 0 ||
        int_setting(cfg, "timeout_sec", 30, 1, 3600, &to, err, errlen) < 0 ||
        int_setting(cfg, "status_timeout_sec", 60, 1, 86400, &sto, err, errlen) < 0 ||
        int_setting(cfg, "retry_min_ms", 500, 10, 600000, &rmin, err, errlen) < 0 ||
        int_setting(cfg, "retry_max_sec", 60, 1, 86400, &rmax, err, errlen) < 0 ||
        int_setting(cfg, "drain_sec", 10, 0, 3600, &drain, err, errlen) < 0 ||
        int_setting(cfg, "batch_records", 100, 1, 10000, &brec, err, errlen) < 0 ||
        int_setting(cfg, "batch_kb", 1024, 1, 1 << 20, &bkb, err, errlen) < 0 ||
        int_setting(cfg, "spool_backlog_kb", 4096, 0, 1 << 20, &mem_kb, err, errlen) < 0)
        return -1;
    const char *dir = setting(cfg, "spool_dir");
    const char *full = setting(cfg, "when_full");
    enum vigil_spool_full policy = VIGIL_SPOOL_DROP_OLDEST;
    if (full && strcmp(full, "drop_new") == 0) {
        policy = VIGIL_SPOOL_DROP_NEW;
    } else if (full && strcmp(full, "drop_oldest") != 0) {
        struct vigil_config_entry *e = vigil_config_find(cfg, SECTION, "when_full");
        vigil_seterr(err, errlen, "%s:%d: when_full: expected drop_oldest or drop_new, got "
                     "'%s'", e->file, e->line, full);
        return -1;
    }
    struct vigil_config_entry *pw = cfg ? vigil_config_find(cfg, SECTION, "password_file") : NULL;
    struct vigil_config_entry *tok = cfg ? vigil_config_find(cfg, SECTION, "token_file") : NULL;
    const char *user = setting(cfg, "username");
    if (user && tok) {
        vigil_seterr(err, errlen, "%s:%d: token_file: give either a token or username + "
                     "password_file, not both", tok->file, tok->line);
        return -1;
    }
    if ((user != NULL) != (pw != NULL)) {
        vigil_seterr(err, errlen, "[taxii] username and password_file go together");
        return -1;
    }
    if (user && (s->username = strdup(user)) == NULL)
        goto nomem;
    if (pw && (s->password = read_secret("password_file", pw, err, errlen)) == NULL)
        return -1;
    if (tok && (s->token = read_secret("token_file", tok, err, errlen)) == NULL)
        return -1;
    *o = (struct vigil_taxii_options){
        .username = s->username,
        .password = s->password,
        .token = s->token,
        .ca_file = setting(cfg, "ca_file"),
        .insecure = (int)insecure,
        .connect_timeout_sec = (long)cto,
        .timeout_sec = (long)to,
        .status_timeout_sec = (long)sto,
        .retry_min_ms = (long)rmin,
        .retry_max_ms = (long)rmax * 1000,
        .drain_sec = (long)drain,
        .sync_ms = (long)sync_ms,
        .batch_records = (size_t)brec,
        .batch_bytes = (size_t)bkb * 1024,
        .spool = {
            .dir = dir ? dir : DEFAULT_SPOOL_DIR,
            .max_bytes = (uint64_t)max_mb << 20,
            .when_full = policy,
            .memory_bytes = (uint64_t)mem_kb << 10,
        },
    };
    return 0;
nomem:
    vigil_seterr(err, errlen, "out of memory");
    return -1;
}

static int taxii_sink_alert(void *self, const struct vigil_alert_event *ev)
{
    struct taxii_sink *s = self;
    json_t *bundle = vigil_share_stix_bundle(s->share, ev, s->max_tlp);
    if (bundle == NULL) {
        s->withheld++;      /* above the destination's TLP (or not buildable) */
        return 0;
    }
    char *text = json_dumps(json_object_get(bundle, "objects"), JSON_COMPACT);
    json_decref(bundle);
    int rc = text ? vigil_taxii_submit(s->taxii, text, strlen(text)) : -1;
    free(text);
    return rc;     /* a drop is counted by the spool and reported at close */
}

static int taxii_sink_close(void *self)
{
    struct taxii_sink *s = self;
    int rc = vigil_taxii_close(s->taxii);
    if (s->withheld > 0)
        vigil_err("taxii: %" PRIu64 " alerts not shared under the [sharing] policy (TLP "
                  "above taxii.max_tlp = %s, or nothing but omitted customer addresses)",
                  s->withheld, s->max_tlp);
    sink_free(s);
    return rc;
}

int vigil_output_open_taxii(const char *target, const struct vigil_output_env *env,
                            struct vigil_output *out, char *err, size_t errlen)
{
    struct taxii_sink *s = calloc(1, sizeof *s);
    if (s == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        return -1;
    }
    struct vigil_config *cfg = env ? env->cfg : NULL;
    struct vigil_taxii_options o;
    if (read_settings(s, cfg, &o, err, errlen) < 0) {
        sink_free(s);
        return -1;
    }
    o.collection_url = target;
    s->share = vigil_share_new(env, err, errlen);
    if (s->share == NULL) {
        sink_free(s);
        return -1;
    }
    s->max_tlp = vigil_share_max_tlp(s->share, "taxii");
    s->taxii = vigil_taxii_open(&o, err, errlen);
    if (s->taxii == NULL) {
        sink_free(s);
        return -1;
    }
    *out = (struct vigil_output){
        .name = "taxii",
        .self = s,
        .alert = taxii_sink_alert,
        .stats = NULL,
        .close = taxii_sink_close,
    };
    return 0;
}
