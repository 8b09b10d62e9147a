/* plugin_host.c - plugin loading, ABI checks, dispatch and host services. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addrset.h"
#include "dirlist.h"
#include "log.h"
#include "plugin_host.h"
#include "watchdog.h"

#define HOST_MAX_PLUGINS 64
#define HOST_MAX_META 64
#define PLUGIN_NAME_MAX 63
#define PLUGIN_MAX_LISTS 16     /* address lists a plugin may look up */

/* An address list from a plugin's settings, parsed on first use. */
struct addr_list {
    const char *key;            /* the config entry's own key string */
    struct vigil_addrset set;
    int bad;
};

/* The smallest descriptor a 1.x plugin can have: up to and including fini. */
#define PLUGIN_MIN_SIZE offsetof(vigil_plugin, on_packet)
/* The smallest alert: everything before the optional metadata. */
#define ALERT_MIN_SIZE offsetof(vigil_alert, meta)

struct loaded_plugin {
    vigil_plugin desc;          /* host-owned copy; members past size are 0 */
    char name[PLUGIN_NAME_MAX + 1];
    char *path;
    void *dl;
    void *state;
    int initialised;
    struct addr_list lists[PLUGIN_MAX_LISTS];
    size_t nlists;
    char **paths;               /* resolved config_path() answers */
    size_t npaths;
    struct vigil_wd_code code;  /* where its code is mapped (watchdog) */
    int disabled;               /* overran its budget: never called again */
};

struct vigil_ctx {
    struct vigil_plugin_host *host;
    size_t index;
    int in_event;               /* a packet or stream callback: has a flow */
};

struct vigil_plugin_host {
    struct loaded_plugin plugins[HOST_MAX_PLUGINS];
    size_t count;
    struct vigil_config *cfg;
    vigil_alert_sink_fn sink;
    void *sink_user;
    int verbosity;
    int64_t now_us;
    vigil_host_api api;
    /* The event being dispatched; its flow is looked up on first use only,
     * so packets no plugin asks about cost no flow-table lookup. */
    const struct vigil_addrset *home_net;
    /* While a plugin starts, the first settings error is kept here, so the
     * refusal is one line naming the file and line, not two. */
    int starting;
    char start_err[1024];
    vigil_flow_resolver_fn resolver;
    void *resolver_user;
    const vigil_packet *cur_pkt;
    const vigil_stream *cur_stream;
    struct vigil_flow *cur_flow;
    int cur_resolved;
    /* The time budget of plugin calls (NULL: none) and who hears of an
     * overrun. */
    struct vigil_watchdog *watchdog;
    struct vigil_wd_calls *wd;
    vigil_overrun_fn overrun;
    void *overrun_user;
    size_t ndisabled;
};

/* One call into a plugin, as the watchdog names and guards it. */
enum call_kind {
    CALL_PACKET,
    CALL_STREAM,
    CALL_TICK,
    CALL_FINISH,
    CALL_FLOW_FREE,
};

static const char *const call_names[] = {
    [CALL_PACKET] = "on_packet",
    [CALL_STREAM] = "on_stream",
    [CALL_TICK] = "on_tick",
    [CALL_FINISH] = "on_finish",
    [CALL_FLOW_FREE] = "flow_free",
};

struct call {
    enum call_kind kind;
    const vigil_packet *pkt;
    const vigil_stream *st;
    int64_t now_us;
    void *flow_state;
};

static void call_plugin(struct vigil_plugin_host *h, size_t i, const struct call *c);

static struct vigil_flow *current_flow(struct vigil_plugin_host *h)
{
    if (!h->cur_resolved && h->resolver) {
        h->cur_flow = h->resolver(h->resolver_user, h->cur_pkt, h->cur_stream);
        h->cur_resolved = 1;
    }
    return h->cur_flow;
}

/* ---- host services ---------------------------------------------------- */

static const char *level_name(int level)
{
    switch (level) {
    case VIGIL_LOG_ERROR: return "error";
    case VIGIL_LOG_WARNING: return "warning";
    case VIGIL_LOG_INFO: return "info";
    default: return "debug";
    }
}

static void api_log(vigil_ctx *ctx, int level, const char *fmt, ...)
{
    if (ctx == NULL || level > ctx->host->verbosity)
        return;
    vigil_wd_service_enter(ctx->host->wd);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vigil_err("%s: %s: %s", ctx->host->plugins[ctx->index].name, level_name(level), msg);
    vigil_wd_service_leave(ctx->host->wd);
}

static int valid_addr(const vigil_addr *a)
{
    return a->family == 0 || a->family == 4 || a->family == 6;
}

static int do_emit_alert(vigil_ctx *ctx, const vigil_alert *in)
{
    if (ctx == NULL || in == NULL || in->size < ALERT_MIN_SIZE)
        return VIGIL_EINVAL;
    vigil_alert a;
    memset(&a, 0, sizeof a);
    memcpy(&a, in, in->size < sizeof a ? in->size : sizeof a);
    a.size = sizeof a;
    if (a.signature == NULL || !valid_addr(&a.src) || !valid_addr(&a.dst) ||
        a.severity > 4 || a.meta_count > HOST_MAX_META ||
        (a.meta_count > 0 && a.meta == NULL))
        return VIGIL_EINVAL;
    for (size_t i = 0; i < a.meta_count; i++)
        if (a.meta[i].key == NULL || a.meta[i].value == NULL)
            return VIGIL_EINVAL;
    if (a.gid == 0)
        a.gid = 1;
    if (a.rev == 0)
        a.rev = 1;
    if (a.severity == 0)
        a.severity = 3;
    if (a.ts_us == 0)
        a.ts_us = ctx->host->now_us;
    struct vigil_plugin_host *h = ctx->host;
    h->sink(h->sink_user, h->plugins[ctx->index].name, ctx->index, &a,
            ctx->in_event ? current_flow(h) : NULL);
    return VIGIL_OK;
}

static int api_config_str(vigil_ctx *ctx, const char *key, const char **out)
{
    if (ctx == NULL || key == NULL || out == NULL)
        return VIGIL_EINVAL;
    struct vigil_config_entry *e =
        vigil_config_find(ctx->host->cfg, ctx->host->plugins[ctx->index].name, key);
    if (e == NULL)
        return VIGIL_ENOENT;
    *out = e->value;
    return VIGIL_OK;
}

/* A settings error: kept for the refusal line while starting, else printed. */
static void settings_error(struct vigil_plugin_host *h, const char *msg)
{
    if (!h->starting)
        vigil_err("%s", msg);
    else if (h->start_err[0] == '\0')
        snprintf(h->start_err, sizeof h->start_err, "%s", msg);
}

static int do_config_int(vigil_ctx *ctx, const char *key, int64_t def,
                         int64_t min, int64_t max, int64_t *out)
{
    if (ctx == NULL || key == NULL || out == NULL)
        return VIGIL_EINVAL;
    char err[512];
    if (vigil_config_int(ctx->host->cfg, ctx->host->plugins[ctx->index].name, key,
                         def, min, max, out, err, sizeof err) < 0) {
        settings_error(ctx->host, err);
        return VIGIL_EINVAL;
    }
    return VIGIL_OK;
}

static void *api_flow_state(vigil_ctx *ctx)
{
    struct vigil_flow *flow = ctx && ctx->in_event ? current_flow(ctx->host) : NULL;
    return flow ? flow->slots[ctx->index] : NULL;
}

static int do_set_flow_state(vigil_ctx *ctx, void *state)
{
    struct vigil_flow *flow = ctx && ctx->in_event ? current_flow(ctx->host) : NULL;
    if (flow == NULL)
        return VIGIL_ENOENT;
    struct loaded_plugin *p = &ctx->host->plugins[ctx->index];
    void *old = flow->slots[ctx->index];
    flow->slots[ctx->index] = state;
    if (old != NULL && old != state && p->desc.flow_free) {
        struct call c = { .kind = CALL_FLOW_FREE, .flow_state = old };
        call_plugin(ctx->host, ctx->index, &c);
    }
    return VIGIL_OK;
}

static int64_t api_now_us(vigil_ctx *ctx)
{
    return ctx ? ctx->host->now_us : 0;
}

static int api_in_home_net(vigil_ctx *ctx, const vigil_addr *a)
{
    if (ctx == NULL || a == NULL || ctx->host->home_net == NULL)
        return 0;
    return vigil_addrset_contains(ctx->host->home_net, a);
}

static struct addr_list *find_list(struct vigil_plugin_host *h, struct loaded_plugin *p,
                                   const char *key)
{
    struct vigil_config *cfg = h->cfg;
    for (size_t i = 0; i < p->nlists; i++)
        if (strcmp(p->lists[i].key, key) == 0)
            return &p->lists[i];
    struct vigil_config_entry *e = vigil_config_find(cfg, p->name, key);
    if (e == NULL || p->nlists >= PLUGIN_MAX_LISTS)
        return NULL;
    struct addr_list *l = &p->lists[p->nlists++];
    l->key = e->key;
    char why[256];
    if (vigil_addrset_parse(&l->set, e->value, why, sizeof why) < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s:%d: %s: %s", e->file, e->line, key, why);
        settings_error(h, msg);
        l->bad = 1;
    }
    return l;
}

static int do_config_path(vigil_ctx *ctx, const char *key, const char **out)
{
    if (ctx == NULL || key == NULL || out == NULL)
        return VIGIL_EINVAL;
    struct loaded_plugin *p = &ctx->host->plugins[ctx->index];
    struct vigil_config_entry *e = vigil_config_find(ctx->host->cfg, p->name, key);
    if (e == NULL)
        return VIGIL_ENOENT;
    char **grown = realloc(p->paths, (p->npaths + 1) * sizeof *grown);
    if (grown == NULL)
        return VIGIL_ENOMEM;
    p->paths = grown;
    if ((p->paths[p->npaths] = vigil_config_entry_path(e)) == NULL)
        return VIGIL_ENOMEM;
    *out = p->paths[p->npaths++];
    return VIGIL_OK;
}

static int api_config_addr_match(vigil_ctx *ctx, const char *key, const vigil_addr *a)
{
    if (ctx == NULL || key == NULL || a == NULL)
        return VIGIL_EINVAL;
    struct addr_list *l = find_list(ctx->host, &ctx->host->plugins[ctx->index], key);
    if (l == NULL)
        return VIGIL_ENOENT;
    if (l->bad)
        return VIGIL_EINVAL;
    return vigil_addrset_contains(&l->set, a);
}

/*
 * The services as plugins see them. The watchdog never jumps from host
 * code, nor from a call while calls nested in it run (watchdog.h), so no
 * service is ever cut halfway. Those a plugin may spend long in (writing
 * an alert or a log line, replacing its flow state, allocating) are also
 * bracketed: an overrun noticed inside one takes effect the moment it
 * returns to the plugin. The cheap reads (flow_state, now_us,
 * in_home_net, config_str, config_addr_match) are not: they are the hot
 * ones, and a plugin looping over them spends its time in its own code.
 */
#define WD_OF(ctx) ((ctx) ? (ctx)->host->wd : NULL)

static int api_emit_alert(vigil_ctx *ctx, const vigil_alert *in)
{
    vigil_wd_service_enter(WD_OF(ctx));
    int rc = do_emit_alert(ctx, in);
    vigil_wd_service_leave(WD_OF(ctx));
    return rc;
}

static int api_config_int(vigil_ctx *ctx, const char *key, int64_t def, int64_t min,
                          int64_t max, int64_t *out)
{
    vigil_wd_service_enter(WD_OF(ctx));
    int rc = do_config_int(ctx, key, def, min, max, out);
    vigil_wd_service_leave(WD_OF(ctx));
    return rc;
}

static int api_set_flow_state(vigil_ctx *ctx, void *state)
{
    vigil_wd_service_enter(WD_OF(ctx));
    int rc = do_set_flow_state(ctx, state);
    vigil_wd_service_leave(WD_OF(ctx));
    return rc;
}

static int api_config_path(vigil_ctx *ctx, const char *key, const char **out)
{
    vigil_wd_service_enter(WD_OF(ctx));
    int rc = do_config_path(ctx, key, out);
    vigil_wd_service_leave(WD_OF(ctx));
    return rc;
}

/* ---- lifecycle ---------------------------------------------------------- */

struct vigil_plugin_host *vigil_plugin_host_new(struct vigil_config *cfg,
                                                vigil_alert_sink_fn sink,
                                                void *sink_user, int verbosity)
{
    struct vigil_plugin_host *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->cfg = cfg;
    h->sink = sink;
    h->sink_user = sink_user;
    h->verbosity = verbosity;
    h->api = (vigil_host_api){
        .size = sizeof(vigil_host_api),
        .abi_major = VIGIL_ABI_MAJOR,
        .abi_minor = VIGIL_ABI_MINOR,
        .log = api_log,
        .emit_alert = api_emit_alert,
        .config_str = api_config_str,
        .config_int = api_config_int,
        .flow_state = api_flow_state,
        .set_flow_state = api_set_flow_state,
        .now_us = api_now_us,
        .in_home_net = api_in_home_net,
        .config_addr_match = api_config_addr_match,
        .config_path = api_config_path,
    };
    return h;
}

static void unload(struct loaded_plugin *p)
{
    for (size_t i = 0; i < p->nlists; i++)
        vigil_addrset_free(&p->lists[i].set);
    for (size_t i = 0; i < p->npaths; i++)
        free(p->paths[i]);
    free(p->paths);
    /* A disabled plugin was stopped halfway: its state is abandoned, and
     * its code stays mapped (it may have left anything pointing into it). */
    if (p->initialised && p->desc.fini && !p->disabled)
        p->desc.fini(p->state);
    if (p->dl && !p->disabled)
        dlclose(p->dl);
    free(p->path);
    memset(p, 0, sizeof *p);
}

void vigil_plugin_host_free(struct vigil_plugin_host *h)
{
    if (h == NULL)
        return;
    for (size_t i = h->count; i > 0; i--)
        unload(&h->plugins[i - 1]);
    free(h);
}

/* ---- loading ------------------------------------------------------------ */

static int check_file(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (strlen(path) >= PATH_MAX) {
        vigil_seterr(err, errlen, "%.64s...: path too long", path);
        return -1;
    }
    if (stat(path, &st) < 0) {
        vigil_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        vigil_seterr(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    if (st.st_mode & S_IWOTH) {
        vigil_seterr(err, errlen, "%s: refused: plugin file is world-writable", path);
        return -1;
    }
    /* Code the sensor runs must belong to root or to the sensor's own user. */
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        vigil_seterr(err, errlen, "%s: refused: owned by uid %u, neither root nor the "
                     "sensor's user", path, (unsigned)st.st_uid);
        return -1;
    }
    return 0;
}

static int valid_name(const char *name)
{
    size_t n = 0;
    for (; name[n] != '\0'; n++) {
        char c = name[n];
        if (n >= PLUGIN_NAME_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return n > 0;
}

/* Check the descriptor and copy it into p->desc. */
static int adopt_descriptor(struct vigil_plugin_host *h, struct loaded_plugin *p,
                            const vigil_plugin *d, const char *path,
                            char *err, size_t errlen)
{
    if (d->size < offsetof(vigil_plugin, name)) {
        vigil_seterr(err, errlen, "%s: refused: plugin descriptor is %u bytes, "
                     "too small for any ABI (sensor ABI %d.%d)",
                     path, d->size, VIGIL_ABI_MAJOR, VIGIL_ABI_MINOR);
        return -1;
    }
    if (d->abi_major != VIGIL_ABI_MAJOR) {
        vigil_seterr(err, errlen, "%s: refused: plugin ABI %u.%u, sensor ABI %d.%d "
                     "(major versions differ)", path, d->abi_major, d->abi_minor,
                     VIGIL_ABI_MAJOR, VIGIL_ABI_MINOR);
        return -1;
    }
    if (d->size < PLUGIN_MIN_SIZE) {
        vigil_seterr(err, errlen, "%s: refused: plugin descriptor is %u bytes, "
                     "ABI %d.x needs at least %zu (plugin ABI %u.%u, sensor ABI %d.%d)",
                     path, d->size, VIGIL_ABI_MAJOR, PLUGIN_MIN_SIZE, d->abi_major,
                     d->abi_minor, VIGIL_ABI_MAJOR, VIGIL_ABI_MINOR);
        return -1;
    }
    memcpy(&p->desc, d, d->size < sizeof p->desc ? d->size : sizeof p->desc);
    p->desc.size = sizeof p->desc;
    if (p->desc.name == NULL || !valid_name(p->desc.name)) {
        vigil_seterr(err, errlen, "%s: refused: plugin name must be 1-%d of [a-z0-9_]",
                     path, PLUGIN_NAME_MAX);
        return -1;
    }
    strcpy(p->name, p->desc.name);
    for (size_t i = 0; i < h->count; i++) {
        if (strcmp(h->plugins[i].name, p->name) == 0) {
            vigil_seterr(err, errlen, "%s: refused: a plugin named '%s' is already "
                         "loaded from %s", path, p->name, h->plugins[i].path);
            return -1;
        }
    }
    return 0;
}

static int open_plugin(struct loaded_plugin *p, const char *path, const vigil_plugin **d,
                       char *err, size_t errlen)
{
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (p->dl == NULL) {
        vigil_seterr(err, errlen, "%s: cannot load: %s", path, dlerror());
        return -1;
    }
    void *sym = dlsym(p->dl, VIGIL_PLUGIN_ENTRY_SYMBOL);
    if (sym == NULL) {
        vigil_seterr(err, errlen, "%s: refused: no entry point %s",
                     path, VIGIL_PLUGIN_ENTRY_SYMBOL);
        return -1;
    }
    vigil_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);     /* object to function pointer */
    *d = entry();
    if (*d == NULL) {
        vigil_seterr(err, errlen, "%s: refused: %s returned NULL",
                     path, VIGIL_PLUGIN_ENTRY_SYMBOL);
        return -1;
    }
    return 0;
}

int vigil_plugin_host_load_file(struct vigil_plugin_host *h, const char *path,
                                char *err, size_t errlen)
{
    if (h->count >= HOST_MAX_PLUGINS) {
        vigil_seterr(err, errlen, "%s: refused: more than %d plugins", path,
                     HOST_MAX_PLUGINS);
        return -1;
    }
    if (check_file(path, err, errlen) < 0)
        return -1;
    struct loaded_plugin *p = &h->plugins[h->count];
    memset(p, 0, sizeof *p);
    const vigil_plugin *d = NULL;
    if (open_plugin(p, path, &d, err, errlen) < 0 ||
        adopt_descriptor(h, p, d, path, err, errlen) < 0)
        goto fail;
    /* Unknown code ranges leave the plugin never jumped out of (watchdog.h). */
    vigil_watchdog_code_of(p->dl, (int)h->count, &p->code);
    p->path = strdup(path);
    if (p->path == NULL) {
        vigil_seterr(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    if (p->desc.init) {
        vigil_ctx ctx = { h, h->count, 0 };
        h->starting = 1;
        h->start_err[0] = '\0';
        int rc = p->desc.init(&ctx, &h->api, &p->state);
        h->starting = 0;
        if (rc != VIGIL_OK && h->start_err[0] != '\0') {
            vigil_seterr(err, errlen, "%s (detector %s refused to start)", h->start_err, p->name);
            goto fail;
        }
        if (rc != VIGIL_OK) {
            vigil_seterr(err, errlen, "%s: plugin '%s' failed to start (code %d)",
                         path, p->name, rc);
            goto fail;
        }
    }
    p->initialised = 1;
    h->count++;
    return 0;
fail:
    unload(p);
    return -1;
}

static int is_plugin(const char *name, const char *path)
{
    if (vigil_has_suffix(name, ".so"))
        return 1;
    /* A leftover copy (x.so.bak, x.so.1) is not loaded: say so once. */
    if (strstr(name, ".so.") != NULL)
        vigil_err("%s: ignored: not a plugin file (only *.so are loaded)", path);
    return 0;
}

static int check_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        vigil_seterr(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        vigil_seterr(err, errlen, "%s: not a directory", dir);
        return -1;
    }
    if (st.st_mode & S_IWOTH) {
        vigil_seterr(err, errlen, "%s: refused: plugin directory is world-writable", dir);
        return -1;
    }
    return 0;
}

int vigil_plugin_host_load_dir(struct vigil_plugin_host *h, const char *dir,
                               char *err, size_t errlen)
{
    struct vigil_dirlist files;
    if (check_dir(dir, err, errlen) < 0 ||
        vigil_dirlist_read(&files, dir, is_plugin, HOST_MAX_PLUGINS + 1, err, errlen) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < files.count && rc == 0; i++)
        rc = vigil_plugin_host_load_file(h, files.paths[i], err, errlen);
    vigil_dirlist_free(&files);
    return rc;
}

/* ---- queries ------------------------------------------------------------ */

size_t vigil_plugin_host_count(const struct vigil_plugin_host *h)
{
    return h->count;
}

const char *vigil_plugin_host_name(const struct vigil_plugin_host *h, size_t i)
{
    return i < h->count ? h->plugins[i].name : NULL;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

const char *vigil_plugin_host_version(const struct vigil_plugin_host *h, size_t i)
{
    return i < h->count ? or_empty(h->plugins[i].desc.version) : NULL;
}

const char *vigil_plugin_host_description(const struct vigil_plugin_host *h, size_t i)
{
    return i < h->count ? or_empty(h->plugins[i].desc.description) : NULL;
}

const char *vigil_plugin_host_path(const struct vigil_plugin_host *h, size_t i)
{
    return i < h->count ? h->plugins[i].path : NULL;
}

int vigil_plugin_host_wants_streams(const struct vigil_plugin_host *h)
{
    for (size_t i = 0; i < h->count; i++)
        if (h->plugins[i].desc.on_stream)
            return 1;
    return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

void vigil_plugin_host_set_home_net(struct vigil_plugin_host *h,
                                    const struct vigil_addrset *home_net)
{
    h->home_net = home_net;
}

void vigil_plugin_host_set_resolver(struct vigil_plugin_host *h,
                                    vigil_flow_resolver_fn fn, void *user)
{
    h->resolver = fn;
    h->resolver_user = user;
}

static void begin_event(struct vigil_plugin_host *h, const vigil_packet *pkt,
                        const vigil_stream *st, int64_t now_us)
{
    h->now_us = now_us;
    h->cur_pkt = pkt;
    h->cur_stream = st;
    h->cur_flow = NULL;
    h->cur_resolved = 0;
}

/* Whether plugin i takes call c (and, for flow_free, has a slot in flow,
 * which it leaves empty either way). */
static inline int wants(struct vigil_plugin_host *h, size_t i, struct call *c,
                        struct vigil_flow *flow)
{
    const struct loaded_plugin *p = &h->plugins[i];
    switch (c->kind) {
    case CALL_PACKET: return p->desc.on_packet && !p->disabled;
    case CALL_STREAM: return p->desc.on_stream && !p->disabled;
    case CALL_TICK: return p->desc.on_tick && !p->disabled;
    case CALL_FINISH: return p->desc.on_finish && !p->disabled;
    case CALL_FLOW_FREE:
        c->flow_state = flow->slots[i];
        flow->slots[i] = NULL;
        return c->flow_state && p->desc.flow_free && !p->disabled;
    }
    return 0;
}

static inline void invoke(struct vigil_plugin_host *h, size_t i, const struct call *c)
{
    struct loaded_plugin *p = &h->plugins[i];
    vigil_ctx ctx = { h, i, c->kind == CALL_PACKET || c->kind == CALL_STREAM };
    switch (c->kind) {
    case CALL_PACKET: p->desc.on_packet(p->state, &ctx, c->pkt); break;
    case CALL_STREAM: p->desc.on_stream(p->state, &ctx, c->st); break;
    case CALL_TICK: p->desc.on_tick(p->state, &ctx, c->now_us); break;
    case CALL_FINISH: p->desc.on_finish(p->state, &ctx); break;
    case CALL_FLOW_FREE: p->desc.flow_free(p->state, c->flow_state); break;
    }
}

/*
 * The plugin overran its budget and the watchdog jumped back here: it is
 * never called again. Its state and its flow slots are abandoned, not
 * freed (it was stopped halfway; its own structures may be inconsistent).
 */
static void overran(struct vigil_plugin_host *h, size_t i, int level, enum call_kind kind)
{
    struct loaded_plugin *p = &h->plugins[i];
    int64_t ran_ms = vigil_watchdog_landed(h->watchdog, level);
    p->disabled = 1;
    h->ndisabled++;
    if (h->overrun) {
        struct vigil_overrun o = {
            .plugin_index = i,
            .name = p->name,
            .callback = call_names[kind],
            .budget_ms = vigil_watchdog_budget_ms(h->watchdog),
            .ran_ms = ran_ms,
            .pkt = h->cur_pkt,
            .st = h->cur_stream,
            .flow = h->cur_resolved ? h->cur_flow : NULL,
            .nested = level > 0,
        };
        h->overrun(h->overrun_user, &o);
    }
}

/*
 * A round of calls under the watchdog: the plugins, in load order, for one
 * event (or a single call). One sigsetjmp for the round, in guarded(), and
 * each call published as it starts (watchdog.h). An overrun jumps back to
 * the sigsetjmp; the round then goes on with the plugin after the one that
 * overran. The loops run in functions of their own, so the sigsetjmp frame
 * keeps nothing in registers that the loop changes: the loop writes *next
 * before each call, and that is all guarded() reads after a jump.
 */
typedef void (*round_loop_fn)(struct vigil_plugin_host *h, struct vigil_wd_calls *wd,
                              int level, size_t from, volatile size_t *next, void *arg);

static void packet_loop(struct vigil_plugin_host *h, struct vigil_wd_calls *wd, int level,
                        size_t from, volatile size_t *next, void *arg)
{
    const vigil_packet *pkt = arg;
    for (size_t i = from; i < h->count; i++) {
        struct loaded_plugin *p = &h->plugins[i];
        if (p->desc.on_packet == NULL || p->disabled)
            continue;
        *next = i + 1;
        vigil_wd_enter(wd, level, &p->code);
        vigil_ctx ctx = { h, i, 1 };
        p->desc.on_packet(p->state, &ctx, pkt);
    }
}

static void stream_loop(struct vigil_plugin_host *h, struct vigil_wd_calls *wd, int level,
                        size_t from, volatile size_t *next, void *arg)
{
    const vigil_stream *st = arg;
    for (size_t i = from; i < h->count; i++) {
        struct loaded_plugin *p = &h->plugins[i];
        if (p->desc.on_stream == NULL || p->disabled)
            continue;
        *next = i + 1;
        vigil_wd_enter(wd, level, &p->code);
        vigil_ctx ctx = { h, i, 1 };
        p->desc.on_stream(p->state, &ctx, st);
    }
}

/* Any other round: on_tick, on_finish, or flow_free of a flow's slots. */
struct other_round {
    struct call c;
    struct vigil_flow *flow;
};

static void other_loop(struct vigil_plugin_host *h, struct vigil_wd_calls *wd, int level,
                       size_t from, volatile size_t *next, void *arg)
{
    struct other_round *r = arg;
    for (size_t i = from; i < h->count; i++) {
        if (!wants(h, i, &r->c, r->flow))
            continue;
        *next = i + 1;
        vigil_wd_enter(wd, level, &h->plugins[i].code);
        invoke(h, i, &r->c);
    }
}

/* A single call: plugin `index` only (flow_free of a slot it replaced). */
struct one_call {
    const struct call *c;
    size_t index;
};

static void one_loop(struct vigil_plugin_host *h, struct vigil_wd_calls *wd, int level,
                     size_t from, volatile size_t *next, void *arg)
{
    struct one_call *o = arg;
    if (from > o->index)
        return;
    *next = o->index + 1;
    vigil_wd_enter(wd, level, &h->plugins[o->index].code);
    invoke(h, o->index, o->c);
}

static void guarded(struct vigil_plugin_host *h, enum call_kind kind, round_loop_fn loop,
                    void *arg)
{
    struct vigil_wd_calls *wd = h->wd;
    int level = vigil_wd_depth(wd);
    if (level >= VIGIL_WD_LEVELS) {     /* deeper than any real nesting */
        size_t unused;
        loop(h, wd, VIGIL_WD_LEVELS, 0, &unused, arg);
        return;
    }
    sigjmp_buf jb;
    volatile size_t next = 0;
    if (sigsetjmp(jb, 0) != 0)
        overran(h, next - 1, level, kind);
    vigil_wd_round(wd, level, &jb);
    loop(h, wd, level, next, &next, arg);
    vigil_wd_leave(wd, level);
}

/* A round of on_tick, on_finish or flow_free calls. */
static void round_of(struct vigil_plugin_host *h, struct call *c, struct vigil_flow *flow)
{
    if (h->wd != NULL) {
        struct other_round r = { *c, flow };
        guarded(h, c->kind, other_loop, &r);
        return;
    }
    for (size_t i = 0; i < h->count; i++)
        if (wants(h, i, c, flow))
            invoke(h, i, c);
}

/* One call of plugin i (flow_free of a slot it replaced). */
static void call_plugin(struct vigil_plugin_host *h, size_t i, const struct call *c)
{
    if (h->wd == NULL) {
        invoke(h, i, c);
        return;
    }
    struct one_call o = { c, i };
    guarded(h, c->kind, one_loop, &o);
}

void vigil_plugin_host_packet(struct vigil_plugin_host *h, const vigil_packet *pkt)
{
    begin_event(h, pkt, NULL, pkt->ts_us);
    if (h->wd != NULL) {
        guarded(h, CALL_PACKET, packet_loop, (void *)pkt);
    } else {
        for (size_t i = 0; i < h->count; i++) {
            struct loaded_plugin *p = &h->plugins[i];
            if (p->desc.on_packet) {
                vigil_ctx ctx = { h, i, 1 };
                p->desc.on_packet(p->state, &ctx, pkt);
            }
        }
    }
    begin_event(h, NULL, NULL, pkt->ts_us);
}

void vigil_plugin_host_stream(struct vigil_plugin_host *h, const vigil_stream *st)
{
    begin_event(h, NULL, st, st->ts_us);
    if (h->wd != NULL) {
        guarded(h, CALL_STREAM, stream_loop, (void *)st);
    } else {
        for (size_t i = 0; i < h->count; i++) {
            struct loaded_plugin *p = &h->plugins[i];
            if (p->desc.on_stream) {
                vigil_ctx ctx = { h, i, 1 };
                p->desc.on_stream(p->state, &ctx, st);
            }
        }
    }
    begin_event(h, NULL, NULL, st->ts_us);
}

void vigil_plugin_host_tick(struct vigil_plugin_host *h, int64_t now_us)
{
    h->now_us = now_us;
    struct call c = { .kind = CALL_TICK, .now_us = now_us };
    round_of(h, &c, NULL);
}

void vigil_plugin_host_finish(struct vigil_plugin_host *h)
{
    struct call c = { .kind = CALL_FINISH };
    round_of(h, &c, NULL);
}

void vigil_plugin_host_release_flow(struct vigil_plugin_host *h, struct vigil_flow *flow)
{
    if (h->wd != NULL) {
        for (size_t i = 0; i < h->count; i++) {
            if (flow->slots[i] != NULL) {   /* else no round, no sigsetjmp */
                struct other_round r = { { .kind = CALL_FLOW_FREE }, flow };
                guarded(h, CALL_FLOW_FREE, other_loop, &r);
                return;
            }
        }
        return;
    }
    for (size_t i = 0; i < h->count; i++) {
        struct loaded_plugin *p = &h->plugins[i];
        if (flow->slots[i] != NULL && p->desc.flow_free)
            p->desc.flow_free(p->state, flow->slots[i]);
        flow->slots[i] = NULL;
    }
}

void vigil_plugin_host_set_watchdog(struct vigil_plugin_host *h, struct vigil_watchdog *wd,
                                    vigil_overrun_fn fn, void *user)
{
    h->watchdog = wd;
    h->wd = vigil_watchdog_calls(wd);
    h->overrun = fn;
    h->overrun_user = user;
}

int vigil_plugin_host_disabled(const struct vigil_plugin_host *h, size_t i)
{
    return i < h->count && h->plugins[i].disabled;
}

size_t vigil_plugin_host_disabled_count(const struct vigil_plugin_host *h)
{
    return h->ndisabled;
}
