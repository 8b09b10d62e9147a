/*
 * main.c - the signature detector plugin: settings, loading the rule
 * files and classification.config, and the callbacks.
 *
 * Settings ([signature] in rules/signature.conf):
 *   rules_dir       directory whose *.rules files load, in name order (.)
 *   rule_files      these files instead (comma-separated; `vigil -S FILE`)
 *   classification  classification.config path (rules_dir/classification.config)
 *   midstream       0|1: tcp rules also match segments of flows picked up
 *                   without a handshake (Suricata stream.midstream)
 *   stream_context  bytes of each stream direction kept to match across chunks
 *   max_trackers    threshold/detection_filter trackers (by_src/by_dst/by_rule)
 *   var.NAME        rule variables ($HOME_NET -> var.home_net)
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine.h"

#define MAX_RULE_LINE (1 << 20)

struct sig_plugin {
    struct sig_engine e;
};

/* Variables commonly used by public rule sets; their keys count as known. */
static const char *const well_known_vars[] = {
    "home_net", "external_net", "http_servers", "smtp_servers", "sql_servers", "dns_servers",
    "telnet_servers", "aim_servers", "dc_servers", "dnp3_server", "dnp3_client",
    "modbus_client", "modbus_server", "enip_client", "enip_server", "http_ports",
    "shellcode_ports", "oracle_ports", "ssh_ports", "dnp3_ports", "file_data_ports",
    "ftp_ports", "geneve_ports", "vxlan_ports", "teredo_ports", NULL,
};

/* ---- variables ---------------------------------------------------------------------- */

static int var_known(const struct sig_vars *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcasecmp(v->v[i].name, name) == 0)
            return 1;
    return 0;
}

static int var_lookup(const vigil_host_api *host, vigil_ctx *ctx, struct sig_vars *v,
                      const char *name, char ***pending, size_t *npending)
{
    if (var_known(v, name))
        return 0;
    char key[96];
    char lower[80];
    size_t n = strlen(name);
    if (n >= sizeof lower)
        return 0;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    snprintf(key, sizeof key, "var.%s", lower);
    const char *val;
    if (host->config_str(ctx, key, &val) != VIGIL_OK)
        return 0;
    struct sig_var *nv = realloc(v->v, (v->n + 1) * sizeof *nv);
    if (nv == NULL)
        return -1;
    v->v = nv;
    char upper[80];
    for (size_t i = 0; i <= n; i++)
        upper[i] = (char)((name[i] >= 'a' && name[i] <= 'z') ? name[i] - 32 : name[i]);
    nv[v->n].name = strdup(upper);
    nv[v->n].value = strdup(val);
    if (nv[v->n].name == NULL || nv[v->n].value == NULL)
        return -1;
    v->n++;
    /* a value may name other variables */
    char **p = realloc(*pending, (*npending + 1) * sizeof *p);
    if (p == NULL)
        return -1;
    *pending = p;
    if ((p[(*npending)++] = strdup(val)) == NULL)
        return -1;
    return 0;
}

/* Every $NAME in text. */
static int scan_vars(const vigil_host_api *host, vigil_ctx *ctx, struct sig_vars *v,
                     const char *text, char ***pending, size_t *npending)
{
    for (const char *s = text; (s = strchr(s, '$')) != NULL;) {
        s++;
        char name[80];
        size_t n = 0;
        while (n + 1 < sizeof name && ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
                                       (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
                                       *s == '-'))
            name[n++] = *s++;
        name[n] = '\0';
        if (n && var_lookup(host, ctx, v, name, pending, npending) < 0)
            return -1;
    }
    return 0;
}

static void vars_free(struct sig_vars *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->v[i].name);
        free(v->v[i].value);
    }
    free(v->v);
    memset(v, 0, sizeof *v);
}

/* ---- files ------------------------------------------------------------------------------ */

struct text {
    char *data;
    size_t len;
};

static int read_file(const char *path, struct text *t)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t cap = 65536, len = 0;
    char *d = malloc(cap);
    for (;;) {
        if (d == NULL) {
            fclose(f);
            return -1;
        }
        size_t got = fread(d + len, 1, cap - len - 1, f);
        len += got;
        if (len < cap - 1)
            break;
        cap *= 2;
        char *nd = realloc(d, cap);
        if (nd == NULL)
            free(d);
        d = nd;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(d);
        return -1;
    }
    d[len] = '\0';
    t->data = d;
    t->len = len;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.rules files of dir, sorted. */
static int list_rules(const char *dir, char ***out, size_t *n)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 7 || strcmp(de->d_name + l - 6, ".rules") != 0 || de->d_name[0] == '.')
            continue;
        char **na = realloc(*out, (*n + 1) * sizeof *na);
        if (na == NULL)
            break;
        *out = na;
        size_t pl = strlen(dir) + l + 2;
        if ((na[*n] = malloc(pl)) == NULL)
            break;
        snprintf(na[*n], pl, "%s/%s", dir, de->d_name);
        (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, cmp_str);
    return 0;
}

static void note_skip(struct sig_engine *e, const char *kw)
{
    e->nskipped++;
    for (size_t i = 0; i < e->nskips; i++)
        if (strcmp(e->skips[i].keyword, kw) == 0) {
            e->skips[i].count++;
            return;
        }
    struct skip_count *s = realloc(e->skips, (e->nskips + 1) * sizeof *s);
    if (s == NULL)
        return;
    e->skips = s;
    snprintf(s[e->nskips].keyword, sizeof s[e->nskips].keyword, "%s", kw);
    s[e->nskips].count = 1;
    e->nskips++;
}

/* Parse every rule of one file into e->rules. */
static int load_file(struct sig_engine *e, vigil_ctx *ctx, const char *path,
                     const struct text *t, const struct sig_vars *vars)
{
    char *line = malloc(MAX_RULE_LINE);
    if (line == NULL)
        return -1;
    const char *p = t->data, *end = t->data + t->len;
    int lineno = 0;
    while (p < end) {
        /* one logical line: a trailing backslash continues it */
        size_t len = 0;
        int first = lineno + 1;
        int overflow = 0;
        for (;;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            lineno++;
            size_t l = (size_t)(le - p);
            if (l > 0 && p[l - 1] == '\r')
                l--;
            int cont = l > 0 && p[l - 1] == '\\';
            if (cont)
                l--;
            if (len + l + 1 >= MAX_RULE_LINE)
                overflow = 1;
            else {
                memcpy(line + len, p, l);
                len += l;
            }
            p = nl ? nl + 1 : end;
            if (!cont || p >= end)
                break;
        }
        line[len] = '\0';
        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        if (overflow) {
            e->host->log(ctx, VIGIL_LOG_ERROR, "%s:%d:1: rule longer than %d bytes", path,
                         first, MAX_RULE_LINE);
            e->nerrors++;
            continue;
        }
        struct sig_rule r;
        struct sig_parse_err pe;
        int rc = sig_parse_rule(s, vars, &r, &pe);
        int col_base = (int)(s - line);
        if (rc == SIG_PARSE_SKIP) {
            e->host->log(ctx, VIGIL_LOG_WARNING,
                         "%s:%d: sid %u: keyword '%s' is not supported; rule skipped", path,
                         first, r.sid, pe.keyword);
            note_skip(e, pe.keyword);
            sig_rule_free(&r);
            continue;
        }
        if (rc != SIG_PARSE_OK) {
            e->host->log(ctx, VIGIL_LOG_ERROR, "%s:%d:%d: %s", path, first,
                         pe.column + col_base, pe.msg);
            e->nerrors++;
            continue;
        }
        char why[SIG_ERR_LEN];
        if (sig_rule_compile(&r, why, sizeof why) < 0) {
            e->host->log(ctx, VIGIL_LOG_ERROR, "%s:%d:%d: sid %u: %s", path, first,
                         col_base + 1, r.sid, why);
            e->nerrors++;
            sig_rule_release(&r);
            sig_rule_free(&r);
            continue;
        }
        if (r.classtype && sig_class_find(&e->classes, r.classtype) == NULL) {
            e->host->log(ctx, VIGIL_LOG_WARNING,
                         "%s:%d: sid %u: classtype '%s' is not in the classification table",
                         path, first, r.sid, r.classtype);
        }
        int dup = 0;
        for (size_t i = 0; i < e->nrules; i++)
            if (e->rules[i].sid == r.sid && e->rules[i].gid == r.gid) {
                dup = 1;
                break;
            }
        if (dup) {
            e->host->log(ctx, VIGIL_LOG_WARNING, "%s:%d: sid %u: duplicate sid; rule skipped",
                         path, first, r.sid);
            note_skip(e, "duplicate sid");
            sig_rule_release(&r);
            sig_rule_free(&r);
            continue;
        }
        r.file = strdup(path);
        r.line = first;
        if (e->nrules % 256 == 0) {
            struct sig_rule *nr = realloc(e->rules, (e->nrules + 256) * sizeof *nr);
            if (nr == NULL) {
                sig_rule_release(&r);
                sig_rule_free(&r);
                free(line);
                return -1;
            }
            e->rules = nr;
        }
        e->rules[e->nrules++] = r;
    }
    free(line);
    return 0;
}

static int load_classes(struct sig_engine *e, vigil_ctx *ctx, const char *path, int required)
{
    struct text t;
    if (read_file(path, &t) < 0) {
        if (required) {
            e->host->log(ctx, VIGIL_LOG_ERROR, "classification %s: %s", path, strerror(errno));
            return -1;
        }
        e->host->log(ctx, VIGIL_LOG_WARNING,
                     "classification %s: %s; classtypes have no description", path,
                     strerror(errno));
        return 0;
    }
    int lineno = 0, rc = 0;
    char *save = NULL;
    for (char *l = strtok_r(t.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t n = strlen(l);
        if (n && l[n - 1] == '\r')
            l[n - 1] = '\0';
        char why[160];
        if (sig_class_line(&e->classes, l, why, sizeof why) < 0) {
            e->host->log(ctx, VIGIL_LOG_ERROR, "%s:%d: %s", path, lineno, why);
            rc = -1;
        }
    }
    free(t.data);
    return rc;
}

/* ---- plugin --------------------------------------------------------------------------------- */

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

static int sg_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    struct sig_plugin *sp = calloc(1, sizeof *sp);
    if (sp == NULL)
        return VIGIL_ENOMEM;
    struct sig_engine *e = &sp->e;
    e->host = host;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t v;
    char **files = NULL;
    size_t nfiles = 0;
    struct text *texts = NULL;
    struct sig_vars vars = { 0 };
    char **pending = NULL;
    size_t npending = 0;
    int rc = VIGIL_EINVAL;

    if (host->config_int(ctx, "midstream", 0, 0, 1, &v) != VIGIL_OK)
        goto fail;
    e->midstream = (int)v;
    if (host->config_int(ctx, "stream_context", 2048, 64, 1 << 20, &v) != VIGIL_OK)
        goto fail;
    e->stream_context = (uint32_t)v;
    if (host->config_int(ctx, "max_trackers", 65536, 16, 1 << 24, &e->max_trackers) != VIGIL_OK)
        goto fail;

    const char *dir = ".";
    if (host->config_path(ctx, "rules_dir", &dir) != VIGIL_OK)
        dir = ".";
    const char *cls = NULL;
    int cls_required = host->config_path(ctx, "classification", &cls) == VIGIL_OK;
    char clsbuf[4096];
    if (!cls_required) {
        snprintf(clsbuf, sizeof clsbuf, "%s/classification.config", dir);
        cls = clsbuf;
    }
    if (load_classes(e, ctx, cls, cls_required) < 0)
        goto fail;

    const char *rf;
    if (host->config_str(ctx, "rule_files", &rf) == VIGIL_OK) {
        if (strchr(rf, ',') == NULL) {
            const char *resolved;
            if (host->config_path(ctx, "rule_files", &resolved) != VIGIL_OK)
                resolved = rf;
            files = calloc(1, sizeof *files);
            if (files == NULL || (files[0] = strdup(resolved)) == NULL)
                goto nomem;
            nfiles = 1;
        } else {
            /* several files: relative names are taken from rules_dir */
            const char *s = rf;
            while (*s) {
                while (*s == ',' || *s == ' ' || *s == '\t')
                    s++;
                const char *st = s;
                while (*s && *s != ',')
                    s++;
                const char *en = s;
                while (en > st && (en[-1] == ' ' || en[-1] == '\t'))
                    en--;
                if (en == st)
                    continue;
                char **nf = realloc(files, (nfiles + 1) * sizeof *nf);
                if (nf == NULL)
                    goto nomem;
                files = nf;
                size_t l = (size_t)(en - st) + strlen(dir) + 2;
                if ((files[nfiles] = malloc(l)) == NULL)
                    goto nomem;
                if (*st == '/')
                    snprintf(files[nfiles], l, "%.*s", (int)(en - st), st);
                else
                    snprintf(files[nfiles], l, "%s/%.*s", dir, (int)(en - st), st);
                nfiles++;
            }
        }
    } else if (list_rules(dir, &files, &nfiles) < 0) {
        host->log(ctx, VIGIL_LOG_ERROR, "rules_dir %s: %s", dir, strerror(errno));
        goto fail;
    }

    texts = calloc(nfiles ? nfiles : 1, sizeof *texts);
    if (texts == NULL)
        goto nomem;
    for (size_t i = 0; i < nfiles; i++) {
        if (read_file(files[i], &texts[i]) < 0) {
            host->log(ctx, VIGIL_LOG_ERROR, "%s: %s", files[i], strerror(errno));
            goto fail;
        }
    }
    /* variables: the well-known names, then every $NAME the rules use */
    for (int i = 0; well_known_vars[i]; i++)
        if (var_lookup(host, ctx, &vars, well_known_vars[i], &pending, &npending) < 0)
            goto nomem;
    for (size_t i = 0; i < nfiles; i++)
        if (scan_vars(host, ctx, &vars, texts[i].data, &pending, &npending) < 0)
            goto nomem;
    for (size_t i = 0; i < npending; i++)   /* grows while values name new variables */
        if (scan_vars(host, ctx, &vars, pending[i], &pending, &npending) < 0)
            goto nomem;
    vars.home_default = !var_known(&vars, "HOME_NET");

    for (size_t i = 0; i < nfiles; i++)
        if (load_file(e, ctx, files[i], &texts[i], &vars) < 0)
            goto nomem;
    if (e->nerrors) {
        host->log(ctx, VIGIL_LOG_ERROR, "%u rule syntax error%s; not loading", e->nerrors,
                  e->nerrors == 1 ? "" : "s");
        goto fail;
    }
    if (sig_engine_build(e, ctx) < 0) {
        host->log(ctx, VIGIL_LOG_ERROR, "cannot build the rule databases");
        goto fail;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char skipped[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < e->nskips && used < sizeof skipped - 1; i++) {
        int w = snprintf(skipped + used, sizeof skipped - used, "%skeyword %s: %u",
                         i ? ", " : " (", e->skips[i].keyword, e->skips[i].count);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (e->nskips && used < sizeof skipped - 1)
        snprintf(skipped + used, sizeof skipped - used, ")");
    host->log(ctx, VIGIL_LOG_INFO, "loaded %zu rules from %zu file%s, skipped %u%s, %u syntax errors",
              e->nrules, nfiles, nfiles == 1 ? "" : "s", e->nskipped, skipped, e->nerrors);
    size_t dbs = 0;
    for (int k = 0; k < G_COUNT; k++)
        dbs += e->g[k].db_bytes;
    size_t scratch = 0;
    if (e->scratch)
        hs_scratch_size(e->scratch, &scratch);
    host->log(ctx, VIGIL_LOG_INFO,
              "compiled databases: %zu bytes of Hyperscan patterns (packets %zu, stream %zu), "
              "%zu bytes of scratch; %zu prefiltered, %zu always-evaluated payload rules; "
              "load time %.0f ms",
              dbs, e->g[G_TCP_PKT].db_bytes + e->g[G_TCP_FALLBACK].db_bytes +
                       e->g[G_UDP].db_bytes + e->g[G_ICMP].db_bytes + e->g[G_OTHER].db_bytes,
              e->g[G_STREAM].db_bytes, scratch,
              e->g[G_STREAM].nfast + e->g[G_TCP_PKT].nfast + e->g[G_UDP].nfast +
                  e->g[G_ICMP].nfast + e->g[G_OTHER].nfast,
              e->g[G_STREAM].nalways + e->g[G_TCP_PKT].nalways + e->g[G_UDP].nalways +
                  e->g[G_ICMP].nalways + e->g[G_OTHER].nalways,
              (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    rc = VIGIL_OK;
    *state = sp;
    goto out;
nomem:
    host->log(ctx, VIGIL_LOG_ERROR, "out of memory");
    rc = VIGIL_ENOMEM;
fail:
    sig_engine_free(e);
    free(sp);
out:
    if (texts)
        for (size_t i = 0; i < nfiles; i++)
            free(texts[i].data);
    free(texts);
    free_list(files, nfiles);
    free_list(pending, npending);
    vars_free(&vars);
    return rc;
}

static void sg_fini(void *state)
{
    struct sig_plugin *sp = state;
    if (sp == NULL)
        return;
    sig_engine_free(&sp->e);
    free(sp);
}

static void sg_packet(void *state, vigil_ctx *ctx, const vigil_packet *pkt)
{
    struct sig_plugin *sp = state;
    if (sp->e.nrules)
        sig_engine_packet(&sp->e, ctx, pkt);
}

static void sg_stream(void *state, vigil_ctx *ctx, const vigil_stream *st)
{
    struct sig_plugin *sp = state;
    if (sp->e.nrules)
        sig_engine_stream(&sp->e, ctx, st);
}

static void sg_tick(void *state, vigil_ctx *ctx, int64_t now_us)
{
    (void)ctx;
    struct sig_plugin *sp = state;
    sig_engine_tick(&sp->e, now_us);
}

static void sg_finish(void *state, vigil_ctx *ctx)
{
    struct sig_plugin *sp = state;
    struct sig_engine *e = &sp->e;
    e->host->log(ctx, VIGIL_LOG_INFO,
                 "%llu packets, %llu stream chunks (%llu bytes), %llu rule evaluations, "
                 "%llu matches, %llu alerts, %llu held back by threshold, %llu pass matches%s",
                 (unsigned long long)e->packets, (unsigned long long)e->stream_chunks,
                 (unsigned long long)e->stream_bytes, (unsigned long long)e->evaluated,
                 (unsigned long long)e->matched, (unsigned long long)e->alerts,
                 (unsigned long long)e->suppressed, (unsigned long long)e->passed,
                 e->th_full ? "; threshold table full" : "");
}

static void sg_flow_free(void *state, void *fs)
{
    struct sig_plugin *sp = state;
    sig_engine_flow_free(&sp->e, fs);
}

static const vigil_plugin descriptor = {
    VIGIL_PLUGIN_HEADER,
    .name = "signature",
    .version = "1.0.0",
    .description = "Suricata/Snort-style signature rules on packets and reassembled streams",
    .init = sg_init,
    .fini = sg_fini,
    .on_packet = sg_packet,
    .on_stream = sg_stream,
    .on_tick = sg_tick,
    .on_finish = sg_finish,
    .flow_free = sg_flow_free,
};

VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void)
{
    return &descriptor;
}
