/* report.c - `vigil report`: an EVE file as one self-contained HTML page. */
#include "report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addrset.h"
#include "log.h"

#define MAX_DETECTORS 64        /* the 64th collects the rest as "other" */
#define MAX_CATEGORIES 64
#define NBINS 96                /* timeline bars */
#define TEXT_MAX 300            /* signature bytes kept */
#define EVIDENCE_MAX 480        /* metadata evidence bytes kept */
#define TOP_HOSTS 20
#define SHARE_ROWS 200
#define DEFAULT_ROWS 200

/* ---- a bounded string -> index map (open addressing) -------------------- */

struct strmap {
    char **keys;
    uint32_t *vals;
    size_t cap;                 /* power of two, twice the most entries */
    size_t count, max;
};

static int strmap_init(struct strmap *m, size_t max)
{
    m->cap = 16;
    while (m->cap < max * 2)
        m->cap *= 2;
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->vals = calloc(m->cap, sizeof *m->vals);
    m->count = 0;
    m->max = max;
    return m->keys && m->vals ? 0 : -1;
}

static void strmap_free(struct strmap *m)
{
    for (size_t i = 0; m->keys && i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* The value for key; when absent, insert `fresh` (if there is room).
 * Returns -1 when absent and full (or out of memory). */
static int64_t strmap_get(struct strmap *m, const char *key, uint32_t fresh, int *added)
{
    size_t i = (size_t)hash_str(key) & (m->cap - 1);
    *added = 0;
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    if (m->count >= m->max || (m->keys[i] = strdup(key)) == NULL)
        return -1;
    m->vals[i] = fresh;
    m->count++;
    *added = 1;
    return fresh;
}

/* ---- the report state ---------------------------------------------------- */

struct incident {
    char *detector, *src, *dst, *category;
    char *signature, *alert_category, *technique, *mitre, *evidence, *proto;
    int more_signatures;
    uint32_t sid;
    int severity;
    int dport;
    uint64_t count;
    double first, last;         /* -1 when no timestamp */
};

struct host {
    char *addr;
    uint64_t alerts;
    uint64_t detectors;         /* bit per detector index */
    uint64_t categories;        /* bit per category index */
    int severity;               /* highest (lowest number) seen */
};

struct hosts {
    struct strmap map;
    struct host *v;
    size_t n;
    uint64_t overflow;          /* alerts of hosts past the cap */
};

struct vigil_report {
    struct vigil_addrset home;
    char *home_text;
    uint64_t lines, bad_lines, first_bad, alerts, other_events, untimed, ungrouped;
    char *detectors[MAX_DETECTORS];
    uint64_t det_alerts[MAX_DETECTORS];
    int det_severity[MAX_DETECTORS];
    size_t ndet;
    char *categories[MAX_CATEGORIES];
    uint64_t cat_alerts[MAX_CATEGORIES], cat_shared[MAX_CATEGORIES];
    size_t ncat;
    struct strmap inc_map;
    struct incident *inc;
    size_t ninc;
    struct hosts attackers, targets;
    json_t *stats;              /* the last stats event's "stats" */
    char stats_time[64];
    double tmin, tmax;
    int hist_started;
    double origin, width;
    uint64_t bins[MAX_DETECTORS][NBINS];
};

static char *dup_trunc(const char *s, size_t max)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s);
    int cut = n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80)    /* whole UTF-8 sequences */
            n--;
    }
    char *d = malloc(n + 4);
    if (d) {
        memcpy(d, s, n);
        if (cut)
            memcpy(d + n, "\xe2\x80\xa6", 3);               /* U+2026 */
        d[n + (cut ? 3 : 0)] = '\0';
    }
    return d;
}

struct vigil_report *vigil_report_new(const char *home_net, char *err, size_t errlen)
{
    struct vigil_report *r = calloc(1, sizeof *r);
    if (r == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        return NULL;
    }
    if (home_net == NULL)
        home_net = VIGIL_REPORT_HOME_NET;
    char why[256];
    if (vigil_addrset_parse(&r->home, home_net, why, sizeof why) < 0) {
        vigil_seterr(err, errlen, "--home-net: %s", why);
        free(r);
        return NULL;
    }
    r->home_text = strdup(home_net);
    r->inc = calloc(VIGIL_REPORT_MAX_GROUPS, sizeof *r->inc);
    r->attackers.v = calloc(VIGIL_REPORT_MAX_HOSTS, sizeof *r->attackers.v);
    r->targets.v = calloc(VIGIL_REPORT_MAX_HOSTS, sizeof *r->targets.v);
    if (r->home_text == NULL || r->inc == NULL || r->attackers.v == NULL ||
        r->targets.v == NULL || strmap_init(&r->inc_map, VIGIL_REPORT_MAX_GROUPS) < 0 ||
        strmap_init(&r->attackers.map, VIGIL_REPORT_MAX_HOSTS) < 0 ||
        strmap_init(&r->targets.map, VIGIL_REPORT_MAX_HOSTS) < 0) {
        vigil_seterr(err, errlen, "out of memory");
        vigil_report_free(r);
        return NULL;
    }
    r->tmin = r->tmax = -1;
    return r;
}

void vigil_report_free(struct vigil_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->ninc; i++) {
        struct incident *c = &r->inc[i];
        free(c->detector), free(c->src), free(c->dst), free(c->category);
        free(c->signature), free(c->alert_category), free(c->technique);
        free(c->mitre), free(c->evidence), free(c->proto);
    }
    for (size_t i = 0; i < r->attackers.n; i++)
        free(r->attackers.v[i].addr);
    for (size_t i = 0; i < r->targets.n; i++)
        free(r->targets.v[i].addr);
    for (size_t i = 0; i < r->ndet; i++)
        free(r->detectors[i]);
    for (size_t i = 0; i < r->ncat; i++)
        free(r->categories[i]);
    free(r->inc);
    free(r->attackers.v);
    free(r->targets.v);
    strmap_free(&r->inc_map);
    strmap_free(&r->attackers.map);
    strmap_free(&r->targets.map);
    json_decref(r->stats);
    vigil_addrset_free(&r->home);
    free(r->home_text);
    free(r);
}

uint64_t vigil_report_alerts(const struct vigil_report *r) { return r->alerts; }
uint64_t vigil_report_bad_lines(const struct vigil_report *r) { return r->bad_lines; }
uint64_t vigil_report_first_bad_line(const struct vigil_report *r) { return r->first_bad; }
size_t vigil_report_incidents(const struct vigil_report *r) { return r->ninc; }

/* ---- reading alerts ------------------------------------------------------ */

static const char *str_of(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* First value of a metadata key (EVE metadata values are arrays). */
static const char *meta_first(const json_t *md, const char *key)
{
    const json_t *v = json_object_get(md, key);
    if (json_is_array(v))
        v = json_array_get(v, 0);
    return json_string_value(v);
}

/* "2023-11-14T22:13:22.335418+0000" -> seconds since the epoch, or -1. */
static double parse_time(const char *s)
{
    int y, mo, d, h, mi, se, n = 0;
    if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6)
        return -1;
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        se > 60 || h < 0 || mi < 0 || se < 0)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
    tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = se;
    double t = (double)timegm(&tm);
    s += n;
    if (*s == '.') {
        double scale = 0.1;
        for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
            t += (*s - '0') * scale;
    }
    if ((*s == '+' || *s == '-') && strlen(s) >= 5) {
        int off = (s[1] - '0') * 600 + (s[2] - '0') * 60 + (s[3] - '0') * 10 + (s[4] - '0');
        if (off >= 0 && off < 24 * 60)
            t -= (*s == '+' ? 1 : -1) * off * 60.0;
    }
    return t >= 0 ? t : -1;
}

static size_t intern(char **names, size_t *n, size_t max, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    if (*n + 1 < max || (*n + 1 == max && strcmp(name, "other") == 0)) {
        char *d = dup_trunc(name, 64);
        if (d) {
            names[*n] = d;
            return (*n)++;
        }
    }
    /* Full: the last slot collects the rest. */
    for (size_t i = 0; i < *n; i++)
        if (strcmp(names[i], "other") == 0)
            return i;
    char *d = strdup("other");
    if (d == NULL)
        return *n - 1;
    names[*n] = d;
    return (*n)++;
}

static void hist_merge(struct vigil_report *r)
{
    for (size_t d = 0; d < MAX_DETECTORS; d++) {
        for (size_t i = 0; i < NBINS / 2; i++)
            r->bins[d][i] = r->bins[d][2 * i] + r->bins[d][2 * i + 1];
        memset(&r->bins[d][NBINS / 2], 0, sizeof r->bins[d][0] * (NBINS / 2));
    }
    r->width *= 2;
}

/* Bins that grow: each bar spans `width` seconds, doubled when the span of
 * the alerts outgrows the bars; earlier alerts move the origin back. */
static void hist_add(struct vigil_report *r, double t, size_t det)
{
    if (!r->hist_started) {
        r->hist_started = 1;
        r->origin = floor(t);
        r->width = 1;
    }
    while (t < r->origin) {
        hist_merge(r);
        for (size_t d = 0; d < MAX_DETECTORS; d++) {
            memmove(&r->bins[d][NBINS / 2], &r->bins[d][0], sizeof r->bins[d][0] * (NBINS / 2));
            memset(&r->bins[d][0], 0, sizeof r->bins[d][0] * (NBINS / 2));
        }
        r->origin -= (NBINS / 2) * r->width;
    }
    while ((t - r->origin) / r->width >= NBINS)
        hist_merge(r);
    size_t i = (size_t)((t - r->origin) / r->width);
    r->bins[det][i < NBINS ? i : NBINS - 1]++;
}

static int parse_addr(const char *s, vigil_addr *a)
{
    memset(a, 0, sizeof *a);
    if (s && inet_pton(AF_INET, s, a->bytes) == 1)
        a->family = 4;
    else if (s && inet_pton(AF_INET6, s, a->bytes) == 1)
        a->family = 6;
    return a->family ? 0 : -1;
}

static int is_home(const struct vigil_report *r, const char *s)
{
    vigil_addr a;
    return parse_addr(s, &a) < 0 || vigil_addrset_contains(&r->home, &a);
}

static void count_host(struct hosts *h, const char *addr, size_t det, size_t cat, int severity)
{
    int added;
    int64_t i = strmap_get(&h->map, addr, (uint32_t)h->n, &added);
    if (i < 0) {
        h->overflow++;
        return;
    }
    struct host *x = &h->v[i];
    if (added) {
        x->addr = strdup(addr);
        x->severity = severity;
        h->n++;
    }
    x->alerts++;
    x->detectors |= 1ull << det;
    x->categories |= 1ull << cat;
    if (severity < x->severity)
        x->severity = severity;
}

static char *evidence_of(const json_t *md)
{
    static const char *const skip[] = { "detector", "attack_category", "attack_technique",
                                        "mitre_attack" };
    char buf[EVIDENCE_MAX * 2 + 64];
    size_t n = 0;
    const char *key;
    const json_t *val;
    buf[0] = '\0';
    json_object_foreach((json_t *)md, key, val) {
        int skipped = 0;
        for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
            skipped |= strcmp(key, skip[i]) == 0;
        if (skipped)
            continue;
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s=", n ? "; " : "", key);
        if (n >= EVIDENCE_MAX)
            break;
        size_t k = json_is_array(val) ? json_array_size(val) : 1;
        for (size_t i = 0; i < k && n < EVIDENCE_MAX; i++) {
            const json_t *item = json_is_array(val) ? json_array_get(val, i) : val;
            const char *s = json_string_value(item);
            char num[32];
            if (s == NULL && json_is_integer(item)) {
                snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(item));
                s = num;
            }
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "", s ? s : "?");
        }
        if (n >= EVIDENCE_MAX)
            break;
    }
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    buf[n] = '\0';
    return dup_trunc(buf, EVIDENCE_MAX);
}

static void add_alert(struct vigil_report *r, const json_t *ev, const json_t *al)
{
    const json_t *md = json_object_get(al, "metadata");
    const char *detector = meta_first(md, "detector");
    const char *attack = meta_first(md, "attack_category");
    const char *category = str_of(al, "category");
    const char *src = str_of(ev, "src_ip");
    const char *dst = str_of(ev, "dest_ip");
    const char *sig = str_of(al, "signature");
    json_int_t sev = json_integer_value(json_object_get(al, "severity"));
    int severity = sev >= 1 && sev <= 4 ? (int)sev : 4;
    double t = parse_time(str_of(ev, "timestamp"));
    if (!detector || !*detector)
        detector = "unknown";
    if (!attack || !*attack)
        attack = category && *category ? category : "unknown";
    if (!src || !*src)
        src = "-";
    if (!dst || !*dst)
        dst = "-";

    r->alerts++;
    size_t det = intern(r->detectors, &r->ndet, MAX_DETECTORS, detector);
    size_t cat = intern(r->categories, &r->ncat, MAX_CATEGORIES, attack);
    if (r->det_alerts[det]++ == 0 || severity < r->det_severity[det])
        r->det_severity[det] = severity;
    r->cat_alerts[cat]++;
    if (!is_home(r, src))
        r->cat_shared[cat]++;
    count_host(&r->attackers, src, det, cat, severity);
    count_host(&r->targets, dst, det, cat, severity);
    if (t >= 0 && t < 253402300800.0) {     /* before year 10000 */
        hist_add(r, t, det);
        if (r->tmin < 0 || t < r->tmin)
            r->tmin = t;
        if (t > r->tmax)
            r->tmax = t;
    } else {
        r->untimed++;
        t = -1;
    }

    /* The incident: detector + attacker + target + category. */
    char key[1024];
    snprintf(key, sizeof key, "%s\x1f%s\x1f%s\x1f%s", detector, src, dst, attack);
    int added;
    int64_t i = strmap_get(&r->inc_map, key, (uint32_t)r->ninc, &added);
    if (i < 0) {
        r->ungrouped++;
        return;
    }
    struct incident *c = &r->inc[i];
    if (added) {
        r->ninc++;
        c->detector = dup_trunc(detector, 64);
        c->src = dup_trunc(src, 64);
        c->dst = dup_trunc(dst, 64);
        c->category = dup_trunc(attack, 64);
        c->signature = dup_trunc(sig ? sig : "(no signature)", TEXT_MAX);
        c->alert_category = dup_trunc(category, 80);
        c->technique = dup_trunc(meta_first(md, "attack_technique"), 64);
        c->mitre = dup_trunc(meta_first(md, "mitre_attack"), 64);
        c->evidence = json_is_object(md) ? evidence_of(md) : dup_trunc("", 0);
        c->proto = dup_trunc(str_of(ev, "proto"), 16);
        c->dport = (int)json_integer_value(json_object_get(ev, "dest_port"));
        c->sid = (uint32_t)json_integer_value(json_object_get(al, "signature_id"));
        c->severity = severity;
        c->first = c->last = t;
    } else {
        if (sig && c->signature && strncmp(c->signature, sig, TEXT_MAX) != 0)
            c->more_signatures = 1;
        if (severity < c->severity)
            c->severity = severity;
        if (t >= 0 && (c->first < 0 || t < c->first))
            c->first = t;
        if (t > c->last)
            c->last = t;
    }
    c->count++;
}

int vigil_report_add_line(struct vigil_report *r, const char *line)
{
    r->lines++;
    const char *p = line;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p == '\0')
        return 0;
    json_error_t jerr;
    json_t *ev = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    const char *type = str_of(ev, "event_type");
    int ok = json_is_object(ev) && type != NULL;
    if (ok && strcmp(type, "alert") == 0) {
        const json_t *al = json_object_get(ev, "alert");
        ok = json_is_object(al);
        if (ok)
            add_alert(r, ev, al);
    } else if (ok && strcmp(type, "stats") == 0) {
        json_t *st = json_object_get(ev, "stats");
        ok = json_is_object(st);
        if (ok) {
            json_decref(r->stats);
            r->stats = json_incref(st);
            const char *ts = str_of(ev, "timestamp");
            snprintf(r->stats_time, sizeof r->stats_time, "%s", ts ? ts : "");
        }
    } else if (ok) {
        r->other_events++;
    }
    json_decref(ev);
    if (!ok) {
        if (r->bad_lines++ == 0)
            r->first_bad = r->lines;
        return -1;
    }
    return 0;
}

int vigil_report_read(struct vigil_report *r, FILE *in)
{
    char *buf = malloc(VIGIL_REPORT_MAX_LINE + 2);
    if (buf == NULL)
        return -1;
    while (fgets(buf, VIGIL_REPORT_MAX_LINE + 2, in)) {
        size_t n = strlen(buf);
        if (n > VIGIL_REPORT_MAX_LINE || (n > 0 && buf[n - 1] != '\n' && !feof(in))) {
            int ch;             /* too long: skip the rest of it */
            while ((ch = getc(in)) != EOF && ch != '\n')
                ;
            r->lines++;
            if (r->bad_lines++ == 0)
                r->first_bad = r->lines;
            continue;
        }
        vigil_report_add_line(r, buf);
    }
    int failed = ferror(in);
    free(buf);
    return failed ? -1 : 0;
}

/* ---- HTML ---------------------------------------------------------------- */

void vigil_html_escape(FILE *out, const char *s)
{
    if (s == NULL)
        return;
    for (; *s; s++) {
        uint8_t ch = (uint8_t)*s;
        switch (ch) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default:
            if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f)
                fputs("&#xFFFD;", out);
            else
                putc(ch, out);
        }
    }
}

#define E(s) vigil_html_escape(out, (s))

static const char *const palette[] = {
    "#2f6fb0", "#d9822b", "#2e9e5b", "#c0392b", "#8e5cc4", "#16a3a3",
    "#b5651d", "#d1478a", "#6b7b8c", "#9aa823", "#3949ab", "#e0a800",
};
#define COLOR(i) palette[(i) % (sizeof palette / sizeof palette[0])]

static void fmt_time(char *buf, size_t len, double t)
{
    if (t < 0) {
        snprintf(buf, len, "-");
        return;
    }
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static void fmt_span(char *buf, size_t len, double sec)
{
    if (sec < 120)
        snprintf(buf, len, "%.0f s", sec);
    else if (sec < 7200)
        snprintf(buf, len, "%.0f min", sec / 60);
    else if (sec < 172800)
        snprintf(buf, len, "%.1f h", sec / 3600);
    else
        snprintf(buf, len, "%.1f days", sec / 86400);
}

static const char *const css =
    ":root{color-scheme:light}"
    "*{box-sizing:border-box}"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
    "margin:0;background:#f3f4f6;color:#1f2933}"
    "header{background:#1f2933;color:#fff;padding:14px 20px}"
    "header h1{font-size:20px;margin:0 0 2px}header p{margin:0;color:#c9d1da;"
    "overflow-wrap:anywhere}"
    "main{max-width:1240px;margin:0 auto;padding:12px 14px 24px}"
    "section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:12px 16px;"
    "margin:12px 0;min-width:0}"
    "h2{font-size:17px;margin:0 0 8px}h3{font-size:14px;margin:12px 0 6px}"
    "p.note{color:#52606d;margin:4px 0 8px;font-size:13px}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(105px,1fr));gap:10px}"
    ".card{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:8px 12px}"
    ".card b{display:block;font-size:22px;font-variant-numeric:tabular-nums}"
    ".card span{color:#52606d;font-size:12px}"
    ".grid2{display:grid;grid-template-columns:1fr 1fr;gap:0 16px}"
    ".grid2>section{margin:12px 0}"
    "@media (max-width:820px){.grid2{display:block}}"
    ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}"
    "table{border-collapse:collapse;width:100%;font-size:13px}"
    "th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e8eb;vertical-align:top}"
    "th{background:#f7f8fa;font-weight:600;white-space:nowrap}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.a,td.t{white-space:nowrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}"
    "tr.incident td{border-bottom:0}td.ev{padding-top:0;overflow-wrap:anywhere;"
    "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#3e4c59}"
    "td.sig{min-width:220px;max-width:480px;overflow-wrap:anywhere}"
    "tr.more td{color:#52606d;font-style:italic}"
    ".sev{display:inline-block;min-width:22px;text-align:center;border-radius:3px;"
    "padding:0 5px;color:#fff;font-weight:600;font-size:12px}"
    ".s1{background:#b71c1c}.s2{background:#d35400}.s3{background:#b7950b}.s4{background:#607080}"
    ".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;"
    "vertical-align:middle}"
    ".legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:6px 0;font-size:13px}"
    ".axis{display:flex;justify-content:space-between;gap:8px;font-size:12px;color:#52606d}"
    "svg.tl{width:100%;height:auto;display:block;background:#fafbfc;border:1px solid #e6e8eb}"
    ".withheld{color:#8a4b08}.shared{color:#1e7a3c;font-weight:600}"
    ".bad{color:#b71c1c;font-weight:600}section.warn p{margin:0}"
    "code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;"
    "overflow-wrap:anywhere}"
    "@media (max-width:480px){main{padding:4px 8px 16px}section{padding:10px 10px}"
    "header{padding:12px 12px}.card b{font-size:18px}}";

static void card(FILE *out, const char *label, uint64_t v)
{
    fprintf(out, "<div class=\"card\"><b>%" PRIu64 "</b><span>", v);
    E(label);
    fputs("</span></div>\n", out);
}

static void sev_badge(FILE *out, int s)
{
    fprintf(out, "<span class=\"sev s%d\">%d</span>", s, s);
}

static void write_timeline(const struct vigil_report *r, FILE *out)
{
    fputs("<section id=\"timeline\"><h2>Timeline of alerts by detector</h2>\n", out);
    size_t lo = NBINS, hi = 0;
    uint64_t tallest = 0;
    for (size_t i = 0; i < NBINS; i++) {
        uint64_t sum = 0;
        for (size_t d = 0; d < r->ndet; d++)
            sum += r->bins[d][i];
        if (sum) {
            if (lo == NBINS)
                lo = i;
            hi = i;
            if (sum > tallest)
                tallest = sum;
        }
    }
    if (!r->hist_started || tallest == 0) {
        fputs("<p class=\"note\">No timestamped alerts.</p></section>\n", out);
        return;
    }
    size_t nb = hi - lo + 1;
    const double W = 1000, H = 220, top = 6, bottom = 214;
    double bw = W / (double)nb;
    fprintf(out, "<svg class=\"tl\" viewBox=\"0 0 %.0f %.0f\" preserveAspectRatio=\"none\" "
            "role=\"img\" aria-label=\"alerts over time\">\n", W, H);
    for (int g = 1; g <= 3; g++)
        fprintf(out, "<line x1=\"0\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e6ea\" "
                "stroke-width=\"1\"/>\n", W, bottom - (bottom - top) * g / 4.0,
                bottom - (bottom - top) * g / 4.0);
    for (size_t i = lo; i <= hi; i++) {
        double y = bottom;
        char t0[32], t1[32];
        fmt_time(t0, sizeof t0, r->origin + (double)i * r->width);
        fmt_time(t1, sizeof t1, r->origin + (double)(i + 1) * r->width);
        for (size_t d = 0; d < r->ndet; d++) {
            uint64_t v = r->bins[d][i];
            if (v == 0)
                continue;
            double h = (bottom - top) * (double)v / (double)tallest;
            y -= h;
            fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                    "fill=\"%s\"><title>%s - %s UTC: ", (double)(i - lo) * bw + bw * 0.08, y,
                    bw * 0.84, h, COLOR(d), t0, t1);
            E(r->detectors[d]);
            fprintf(out, " %" PRIu64 "</title></rect>\n", v);
        }
    }
    fprintf(out, "<line x1=\"0\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#9aa5b1\"/>\n",
            W, bottom, bottom);
    fputs("</svg>\n", out);
    char a[32], b[32], w[32];
    fmt_time(a, sizeof a, r->tmin);
    fmt_time(b, sizeof b, r->tmax);
    fmt_span(w, sizeof w, r->width);
    fprintf(out, "<div class=\"axis\"><span>%s UTC</span><span>one bar = %s; tallest = %"
            PRIu64 " alerts</span><span>%s UTC</span></div>\n<div class=\"legend\">", a, w,
            tallest, b);
    for (size_t d = 0; d < r->ndet; d++) {
        fprintf(out, "<span><span class=\"sw\" style=\"background:%s\"></span>", COLOR(d));
        E(r->detectors[d]);
        fprintf(out, " (%" PRIu64 ")</span>", r->det_alerts[d]);
    }
    fputs("</div>\n", out);
    if (r->untimed)
        fprintf(out, "<p class=\"note\">%" PRIu64 " alerts without a valid timestamp are not "
                "on the timeline.</p>\n", r->untimed);
    fputs("</section>\n", out);
}

static int cmp_host(const void *pa, const void *pb)
{
    const struct host *a = *(const struct host *const *)pa, *b = *(const struct host *const *)pb;
    if (a->alerts != b->alerts)
        return a->alerts < b->alerts ? 1 : -1;
    return strcmp(a->addr ? a->addr : "", b->addr ? b->addr : "");
}

static const struct host **sorted_hosts(const struct hosts *h)
{
    const struct host **v = malloc((h->n + 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < h->n; i++)
        v[i] = &h->v[i];
    qsort(v, h->n, sizeof *v, cmp_host);
    return v;
}

static void names_of_mask(const struct vigil_report *r, FILE *out, uint64_t mask, int cats)
{
    size_t n = cats ? r->ncat : r->ndet;
    char *const *names = cats ? r->categories : r->detectors;
    int first = 1;
    for (size_t i = 0; i < n && i < 64; i++) {
        if (!(mask & (1ull << i)))
            continue;
        if (!first)
            fputs(", ", out);
        E(names[i]);
        first = 0;
    }
}

static void write_hosts(const struct vigil_report *r, FILE *out, const struct hosts *h,
                        const char *id, const char *title, const char *what)
{
    fprintf(out, "<section id=\"%s\"><h2>%s</h2>\n", id, title);
    if (h->n == 0) {
        fputs("<p class=\"note\">None.</p></section>\n", out);
        return;
    }
    const struct host **v = sorted_hosts(h);
    if (v == NULL) {
        fputs("</section>\n", out);
        return;
    }
    fprintf(out, "<div class=\"scroll\"><table><thead><tr><th>%s</th><th class=\"n\">alerts</th>"
            "<th>sev</th><th>detectors</th><th>home</th></tr></thead><tbody>\n", what);
    size_t shown = h->n < TOP_HOSTS ? h->n : TOP_HOSTS;
    for (size_t i = 0; i < shown; i++) {
        fputs("<tr><td class=\"a\">", out);
        E(v[i]->addr);
        fprintf(out, "</td><td class=\"n\">%" PRIu64 "</td><td>", v[i]->alerts);
        sev_badge(out, v[i]->severity);
        fputs("</td><td>", out);
        names_of_mask(r, out, v[i]->detectors, 0);
        vigil_addr ad;
        fprintf(out, "</td><td>%s</td></tr>\n", parse_addr(v[i]->addr, &ad) < 0 ? "-"
                                                 : is_home(r, v[i]->addr) ? "yes" : "no");
    }
    if (h->n > shown)
        fprintf(out, "<tr class=\"more\"><td colspan=\"5\">and %zu more</td></tr>\n",
                h->n - shown);
    if (h->overflow)
        fprintf(out, "<tr class=\"more\"><td colspan=\"5\">%" PRIu64 " alerts from addresses "
                "past the first %d were counted but not listed</td></tr>\n", h->overflow,
                VIGIL_REPORT_MAX_HOSTS);
    fputs("</tbody></table></div></section>\n", out);
    free(v);
}

static int cmp_incident(const void *pa, const void *pb)
{
    const struct incident *a = *(const struct incident *const *)pa;
    const struct incident *b = *(const struct incident *const *)pb;
    if (a->severity != b->severity)
        return a->severity < b->severity ? -1 : 1;
    if (a->count != b->count)
        return a->count < b->count ? 1 : -1;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    return strcmp(a->src, b->src);
}

static void write_incidents(const struct vigil_report *r, FILE *out, size_t max_rows)
{
    fprintf(out, "<section id=\"incidents\"><h2>Incidents</h2>\n<p class=\"note\">Alerts "
            "grouped by detector, attacker, target and attack category; most severe first. "
            "Evidence is the metadata of the first alert of each group.</p>\n");
    if (r->ninc == 0) {
        fputs("<p class=\"note\">No alerts in this file.</p></section>\n", out);
        return;
    }
    const struct incident **v = malloc(r->ninc * sizeof *v);
    if (v == NULL) {
        fputs("</section>\n", out);
        return;
    }
    for (size_t i = 0; i < r->ninc; i++)
        v[i] = &r->inc[i];
    qsort(v, r->ninc, sizeof *v, cmp_incident);
    fputs("<div class=\"scroll\"><table class=\"inc\"><thead><tr><th>sev</th>"
          "<th>detector</th><th>category</th><th>attacker</th><th>target</th>"
          "<th class=\"n\">alerts</th><th>first / last seen (UTC)</th>"
          "<th>signature</th></tr></thead><tbody>\n", out);
    size_t shown = r->ninc < max_rows ? r->ninc : max_rows;
    for (size_t i = 0; i < shown; i++) {
        const struct incident *c = v[i];
        char f[32], l[32];
        fmt_time(f, sizeof f, c->first);
        fmt_time(l, sizeof l, c->last);
        fputs("<tr class=\"incident\"><td>", out);
        sev_badge(out, c->severity);
        fputs("</td><td>", out);
        E(c->detector);
        fputs("</td><td>", out);
        E(c->category);
        if (c->technique && *c->technique) {
            fputs("<br><small>", out);
            E(c->technique);
            fputs("</small>", out);
        }
        fputs("</td><td class=\"a\">", out);
        E(c->src);
        fputs("</td><td class=\"a\">", out);
        E(c->dst);
        if (c->dport > 0) {
            fprintf(out, "<br><small>%d/", c->dport);
            E(c->proto);
            fputs("</small>", out);
        }
        fprintf(out, "</td><td class=\"n\">%" PRIu64 "</td><td class=\"t\">%s"
                "<br>%s</td><td class=\"sig\">", c->count, f, l);
        E(c->signature);
        if (c->more_signatures)
            fputs(" <small>(and variants)</small>", out);
        fprintf(out, "<br><small>sid %" PRIu32, c->sid);
        if (c->alert_category && *c->alert_category) {
            fputs(" &middot; ", out);
            E(c->alert_category);
        }
        if (c->mitre && *c->mitre) {
            fputs(" &middot; ATT&amp;CK ", out);
            E(c->mitre);
        }
        fputs("</small></td></tr>\n", out);
        if (c->evidence && *c->evidence) {
            fputs("<tr class=\"evrow\"><td></td><td colspan=\"8\" class=\"ev\">", out);
            E(c->evidence);
            fputs("</td></tr>\n", out);
        }
    }
    if (r->ninc > shown)
        fprintf(out, "<tr class=\"more\"><td colspan=\"8\">and %zu more incidents not shown"
                "</td></tr>\n", r->ninc - shown);
    if (r->ungrouped)
        fprintf(out, "<tr class=\"more\"><td colspan=\"8\">%" PRIu64 " alerts past the first "
                "%d incidents were counted but not grouped</td></tr>\n", r->ungrouped,
                VIGIL_REPORT_MAX_GROUPS);
    fputs("</tbody></table></div></section>\n", out);
    free(v);
}

static void write_detectors(const struct vigil_report *r, FILE *out)
{
    fputs("<section id=\"detectors\"><h2>Alerts per detector</h2>\n", out);
    if (r->ndet == 0) {
        fputs("<p class=\"note\">No alerts.</p></section>\n", out);
        return;
    }
    /* Detectors that loaded but stayed silent are in the stats event. */
    fputs("<div class=\"scroll\"><table><thead><tr><th>detector</th><th class=\"n\">alerts"
          "</th><th>highest sev</th></tr></thead><tbody>\n", out);
    for (size_t d = 0; d < r->ndet; d++) {
        fprintf(out, "<tr class=\"det\"><td><span class=\"sw\" style=\"background:%s\"></span>",
                COLOR(d));
        E(r->detectors[d]);
        fprintf(out, "</td><td class=\"n\">%" PRIu64 "</td><td>", r->det_alerts[d]);
        sev_badge(out, r->det_severity[d]);
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody></table></div></section>\n", out);
}

static void json_value(FILE *out, const json_t *v)
{
    if (json_is_integer(v))
        fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        fprintf(out, "%g", json_real_value(v));
    else if (json_is_string(v))
        E(json_string_value(v));
    else if (json_is_true(v))
        fputs("true", out);
    else if (json_is_false(v))
        fputs("false", out);
    else
        fputs("-", out);
}

static int is_alarming(const char *path)
{
    static const char *const words[] = { "drop", "truncated", "malformed", "warnings.",
                                         "uninspected", "evicted", "events.", "bad_" };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(path, words[i]))
            return 1;
    return 0;
}

/* Every leaf of a stats section as "path | value" rows. */
static void stats_rows(FILE *out, const json_t *obj, const char *prefix, int depth)
{
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        if (json_is_object(val) && depth < 4) {
            if (json_object_size(val) == 0) {
                fputs("<tr><td>", out);
                E(path);
                fputs("</td><td class=\"n\">none</td></tr>\n", out);
            }
            stats_rows(out, val, path, depth + 1);
            continue;
        }
        int bad = is_alarming(path) && json_is_integer(val) && json_integer_value(val) > 0;
        fputs("<tr><td>", out);
        E(path);
        fprintf(out, "</td><td class=\"n%s\">", bad ? " bad" : "");
        json_value(out, val);
        fputs("</td></tr>\n", out);
    }
}

static json_int_t stat_int(const json_t *st, const char *a, const char *b)
{
    return json_integer_value(json_object_get(json_object_get(st, a), b));
}

static void write_stats(const struct vigil_report *r, FILE *out)
{
    fputs("<section id=\"stats\"><h2>Capture statistics</h2>\n", out);
    const json_t *st = r->stats;
    if (st == NULL) {
        fputs("<p class=\"note\">No stats event in this file (the capture may still be "
              "running, or the file was cut).</p></section>\n", out);
        return;
    }
    fputs("<p class=\"note\">From the last stats event", out);
    if (r->stats_time[0]) {
        fputs(" (", out);
        E(r->stats_time);
        fputs(")", out);
    }
    fputs(". Non-zero drops, decode errors, reassembly warnings and uninspected bytes are "
          "in red: traffic the detectors could not fully see.</p>\n<div class=\"cards\">\n",
          out);
    const json_t *un = json_object_get(json_object_get(st, "reassembly"), "uninspected_bytes");
    json_int_t unsum = 0;
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)un, key, val)
        unsum += json_integer_value(val);
    const json_t *wr = json_object_get(json_object_get(st, "reassembly"), "warnings");
    json_int_t wsum = 0;
    json_object_foreach((json_t *)wr, key, val)
        wsum += json_integer_value(val);
    card(out, "packets", (uint64_t)stat_int(st, "capture", "packets"));
    card(out, "bytes", (uint64_t)stat_int(st, "capture", "bytes"));
    card(out, "decode errors", (uint64_t)(stat_int(st, "decoder", "truncated") +
                                          stat_int(st, "decoder", "malformed")));
    card(out, "libnids warnings", (uint64_t)wsum);
    card(out, "uninspected TCP bytes", (uint64_t)unsum);
    card(out, "kernel drops", (uint64_t)(stat_int(st, "capture", "kernel_dropped") +
                                         stat_int(st, "capture", "iface_dropped")));
    card(out, "flows", (uint64_t)stat_int(st, "flows", "created"));
    card(out, "TCP streams", (uint64_t)stat_int(st, "reassembly", "streams_established"));
    fputs("</div>\n<div class=\"grid2\">\n", out);
    json_object_foreach((json_t *)st, key, val) {
        if (!json_is_object(val))
            continue;
        fputs("<div><h3>", out);
        E(key);
        fputs("</h3><div class=\"scroll\"><table class=\"stats\"><tbody>\n", out);
        stats_rows(out, val, "", 0);
        fputs("</tbody></table></div></div>\n", out);
    }
    fputs("</div></section>\n", out);
}

static void write_sharing(const struct vigil_report *r, FILE *out)
{
    fputs("<section id=\"sharing\"><h2>What the sharing policy would send</h2>\n"
          "<p class=\"note\"><b>Preview only: this report sends nothing.</b> Shared: the attack "
          "categories seen and attacker addresses outside the home networks. Withheld: every "
          "address inside the home networks (customer addresses), and all target addresses. "
          "Home networks: <code>", out);
    E(r->home_text);
    fputs("</code></p>\n<h3>Attack categories</h3>\n", out);
    if (r->ncat == 0) {
        fputs("<p class=\"note\">None.</p>\n", out);
    } else {
        fputs("<div class=\"scroll\"><table><thead><tr><th>category</th><th class=\"n\">alerts"
              "</th><th class=\"n\">from outside attackers</th><th>shared</th></tr></thead>"
              "<tbody>\n", out);
        for (size_t i = 0; i < r->ncat; i++) {
            fputs("<tr class=\"cat\"><td>", out);
            E(r->categories[i]);
            fprintf(out, "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
                    "</td><td class=\"shared\">yes</td></tr>\n", r->cat_alerts[i],
                    r->cat_shared[i]);
        }
        fputs("</tbody></table></div>\n", out);
    }
    fputs("<h3>Attacker addresses</h3>\n", out);
    const struct host **v = r->attackers.n ? sorted_hosts(&r->attackers) : NULL;
    if (v == NULL) {
        fputs("<p class=\"note\">None.</p></section>\n", out);
        return;
    }
    size_t nshared = 0;
    for (size_t i = 0; i < r->attackers.n; i++)
        nshared += !is_home(r, v[i]->addr);
    fprintf(out, "<p class=\"note\">%zu of %zu attacker addresses would be shared; %zu are "
            "withheld.</p>\n", nshared, r->attackers.n, r->attackers.n - nshared);
    fputs("<div class=\"scroll\"><table><thead><tr><th>attacker</th><th class=\"n\">alerts"
          "</th><th>categories</th><th>policy</th></tr></thead><tbody>\n", out);
    size_t shown = r->attackers.n < SHARE_ROWS ? r->attackers.n : SHARE_ROWS;
    for (size_t i = 0; i < shown; i++) {
        int home = is_home(r, v[i]->addr);
        fputs("<tr class=\"share\"><td class=\"a\">", out);
        if (home)
            fputs("<span class=\"withheld\">withheld</span> <small>(", out);
        E(v[i]->addr);
        if (home)
            fputs(")</small>", out);
        fprintf(out, "</td><td class=\"n\">%" PRIu64 "</td><td>", v[i]->alerts);
        names_of_mask(r, out, v[i]->categories, 1);
        fprintf(out, "</td><td class=\"%s\">%s</td></tr>\n", home ? "withheld" : "shared",
                home ? "withheld: home network" : "shared");
    }
    if (r->attackers.n > shown)
        fprintf(out, "<tr class=\"more\"><td colspan=\"4\">and %zu more</td></tr>\n",
                r->attackers.n - shown);
    fputs("</tbody></table></div></section>\n", out);
    free(v);
}

int vigil_report_write_html(const struct vigil_report *r, FILE *out, const char *source,
                            size_t max_rows)
{
    char a[32], b[32], span[32];
    fmt_time(a, sizeof a, r->tmin);
    fmt_time(b, sizeof b, r->tmax);
    fmt_span(span, sizeof span, r->tmax > r->tmin ? r->tmax - r->tmin : 0);
    /* No script may run, whatever the file holds; nothing is fetched. */
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; img-src data:\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>Vigil report: ", out);
    E(source);
    fprintf(out, "</title>\n<style>%s</style>\n</head><body>\n<header><h1>Vigil alert report"
            "</h1><p>", css);
    E(source);
    if (r->tmin >= 0)
        fprintf(out, " &middot; %s to %s UTC (%s)", a, b, span);
    fputs("</p></header>\n<main>\n<nav class=\"cards\" id=\"summary\">\n", out);
    card(out, "alerts", r->alerts);
    card(out, "incidents", r->ninc);
    card(out, "detectors", r->ndet);
    card(out, "attackers", r->attackers.n);
    card(out, "targets", r->targets.n);
    fputs("</nav>\n", out);
    if (r->bad_lines)
        fprintf(out, "<section class=\"warn\"><p class=\"bad\">%" PRIu64 " malformed line%s "
                "skipped (the first is line %" PRIu64 ").</p></section>\n", r->bad_lines,
                r->bad_lines == 1 ? " was" : "s were", r->first_bad);
    write_timeline(r, out);
    write_incidents(r, out, max_rows ? max_rows : DEFAULT_ROWS);
    fputs("<div class=\"grid2\">\n", out);
    write_hosts(r, out, &r->attackers, "attackers", "Top attackers", "attacker");
    write_hosts(r, out, &r->targets, "targets", "Top targets", "target");
    fputs("</div>\n", out);
    write_detectors(r, out);
    write_stats(r, out);
    write_sharing(r, out);
    fprintf(out, "<p class=\"note\">%" PRIu64 " lines read; %" PRIu64 " alerts, %" PRIu64
            " other events, %" PRIu64 " malformed lines.</p>\n</main></body></html>\n",
            r->lines, r->alerts, r->other_events, r->bad_lines);
    return ferror(out) ? -1 : 0;
}

#undef E

/* ---- the command --------------------------------------------------------- */

static int report_to(const char *eve_path, const char *html_path, const char *home_net,
                     size_t max_rows, int quiet)
{
    char err[512];
    struct vigil_report *r = vigil_report_new(home_net, err, sizeof err);
    if (r == NULL) {
        vigil_err("%s", err);
        return 2;
    }
    FILE *in = strcmp(eve_path, "-") == 0 ? stdin : fopen(eve_path, "r");
    if (in == NULL) {
        vigil_err("%s: %s", eve_path, strerror(errno));
        vigil_report_free(r);
        return 1;
    }
    int read_failed = vigil_report_read(r, in) < 0;
    int read_errno = errno;
    if (in != stdin)
        fclose(in);
    if (read_failed) {
        vigil_err("%s: read error: %s", eve_path, strerror(read_errno));
        vigil_report_free(r);
        return 1;
    }
    if (r->bad_lines)
        vigil_err("%s: skipped %" PRIu64 " malformed line%s (first at line %" PRIu64 ")",
                  eve_path, r->bad_lines, r->bad_lines == 1 ? "" : "s", r->first_bad);
    int to_stdout = strcmp(html_path, "-") == 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", html_path);
    FILE *out = to_stdout ? stdout : fopen(tmp, "w");
    if (out == NULL) {
        vigil_err("%s: %s", tmp, strerror(errno));
        vigil_report_free(r);
        return 1;
    }
    const char *base = strrchr(eve_path, '/');
    int failed = vigil_report_write_html(r, out, base ? base + 1 : eve_path, max_rows) < 0;
    failed |= to_stdout ? fflush(out) != 0 : fclose(out) != 0;
    if (!to_stdout && !failed && rename(tmp, html_path) < 0)
        failed = 1;
    if (failed) {
        vigil_err("%s: writing the report failed: %s", html_path, strerror(errno));
        if (!to_stdout)
            remove(tmp);
    } else if (!quiet) {
        fprintf(stderr, "vigil: report: %" PRIu64 " alerts in %zu incidents -> %s\n",
                r->alerts, r->ninc, html_path);
    }
    vigil_report_free(r);
    return failed ? 1 : 0;
}

int vigil_report_file(const char *eve_path, const char *html_path, int quiet)
{
    return report_to(eve_path, html_path, NULL, 0, quiet);
}

static void report_usage(FILE *out)
{
    fprintf(out,
"Usage: vigil report [options] EVE_FILE\n"
"Write one self-contained HTML page (no scripts, nothing fetched) from an EVE\n"
"file: timeline, incidents with evidence, top attackers and targets, capture\n"
"statistics and what a sharing policy would send.\n"
"\n"
"  -o FILE            the HTML report ('-' = stdout); required\n"
"  --home-net LIST    home networks, withheld from sharing\n"
"                     (default: %s)\n"
"  --max-incidents N  incident rows listed (default %d; the rest are counted)\n"
"  -q                 no closing line on stderr\n"
"  -h, --help         this text\n"
"\n"
"EVE_FILE '-' reads stdin. Malformed lines are skipped and counted.\n"
"Exit status: 0 success; 1 unreadable input or write error; 2 bad usage.\n",
            VIGIL_REPORT_HOME_NET, DEFAULT_ROWS);
}

int vigil_report_main(int argc, char **argv)
{
    enum { OPT_HOME = 256, OPT_MAX };
    static const struct option longopts[] = {
        { "home-net", required_argument, NULL, OPT_HOME },
        { "max-incidents", required_argument, NULL, OPT_MAX },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *out = NULL, *home = NULL;
    size_t max_rows = DEFAULT_ROWS;
    int quiet = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'o': out = optarg; break;
        case 'q': quiet = 1; break;
        case OPT_HOME: home = optarg; break;
        case OPT_MAX: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > VIGIL_REPORT_MAX_GROUPS) {
                vigil_err("--max-incidents: expected 1-%d, got '%s'", VIGIL_REPORT_MAX_GROUPS,
                          optarg);
                return 2;
            }
            max_rows = v;
            break;
        }
        case 'h': report_usage(stdout); return 0;
        default:
            fprintf(stderr, "Try 'vigil report --help'.\n");
            return 2;
        }
    }
    if (optind != argc - 1 || out == NULL) {
        vigil_err("usage: vigil report -o REPORT.html EVE_FILE (see vigil report --help)");
        return 2;
    }
    return report_to(argv[optind], out, home, max_rows, quiet);
}
