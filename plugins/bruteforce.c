/*
 * bruteforce.c - password guessing: many failed logins from one source
 * against one service of one server.
 *
 * Cleartext services are read from the reassembled TCP streams: a small
 * bounded line parser per connection pairs each client attempt with the
 * server's verdict (FTP 530 after USER/PASS, SMTP 535 after AUTH, POP3
 * -ERR after PASS/APOP/AUTH, IMAP "tag NO" after LOGIN/AUTHENTICATE,
 * telnet "Login incorrect", HTTP 401 to a request carrying Basic or
 * Digest credentials). Encrypted services (SSH, RDP) are judged from the
 * shape of their connections: many short sessions of similar size, each
 * past the key exchange, from one source to one server.
 *
 * Failures land in a tracker per (source, server, port, service) with a
 * sliding window of packet time. A tracker that reaches its threshold is
 * armed and reported once the guessing has been quiet for settle_sec (or
 * report_delay_sec after it armed, or at the end of input), so that one
 * alert carries the counts of the whole attempt. Trackers live in a
 * capped table with least-recently-used eviction; alerts are emitted in
 * arming order, never in hash order.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/plugin.h"
#include "vgp.h"

#define LINE_MAX_ 160           /* bytes of a protocol line kept (its start) */
#define USER_MAX 32             /* bytes of a user name kept */
#define USER_SAMPLE 4           /* distinct user names listed in an alert */
#define NBUCKETS 8              /* sub-windows of the sliding window */
#define SESSION_RING 32         /* short sessions remembered per tracker */
#define PORTS_MAX 16            /* ports per service list */
#define FIFO_MAX 16             /* outstanding HTTP requests per connection */

/* ---- services -------------------------------------------------------------- */

enum service {
    SVC_NONE = 0, SVC_FTP, SVC_HTTP, SVC_TELNET, SVC_SMTP, SVC_POP3, SVC_IMAP,
    SVC_SSH, SVC_RDP, SVC_COUNT
};

struct service_info {
    const char *name;           /* meta "service" */
    const char *ports_key;      /* config key of its port list */
    const char *default_ports;
    uint32_t sid;
    const char *technique;
    const char *label;          /* in the signature text */
    int by_shape;               /* encrypted: judged from session shape */
};

static const struct service_info services[SVC_COUNT] = {
    [SVC_FTP] = { "ftp", "ftp_ports", "21", 9300001, "ftp_password_guessing",
                  "FTP password guessing", 0 },
    [SVC_HTTP] = { "http", "http_ports", "80, 8000, 8008, 8080, 8081, 8888", 9300002,
                   "http_basic_auth_guessing", "HTTP authentication guessing", 0 },
    [SVC_TELNET] = { "telnet", "telnet_ports", "23", 9300003, "telnet_password_guessing",
                     "Telnet password guessing", 0 },
    [SVC_SMTP] = { "smtp", "smtp_ports", "25, 587", 9300004, "smtp_auth_guessing",
                   "SMTP AUTH password guessing", 0 },
    [SVC_POP3] = { "pop3", "pop3_ports", "110", 9300005, "pop3_password_guessing",
                   "POP3 password guessing", 0 },
    [SVC_IMAP] = { "imap", "imap_ports", "143", 9300006, "imap_password_guessing",
                   "IMAP password guessing", 0 },
    [SVC_SSH] = { "ssh", "ssh_ports", "22", 9300007, "ssh_password_guessing",
                  "SSH password guessing", 1 },
    [SVC_RDP] = { "rdp", "rdp_ports", "3389", 9300008, "rdp_password_guessing",
                  "RDP password guessing", 1 },
};

/* ---- configuration ------------------------------------------------------ */

struct bf_config {
    int64_t window_us;
    int64_t min_failures;       /* cleartext: failed logins in the window */
    int64_t min_sessions;       /* SSH/RDP: similar short sessions in the window */
    int64_t short_session_us;   /* longest session that counts as an attempt */
    int64_t min_session_bytes;  /* client bytes: past the key exchange */
    int64_t max_session_bytes;  /* server bytes: no real work was done */
    int64_t settle_us;
    int64_t report_delay_us;
    int64_t max_trackers;
    int64_t max_conns;
    int64_t parse_limit;        /* protocol bytes read per direction */
};

#define KNOB(k, d, lo, hi, sc, field) VGP_KNOB(struct bf_config, k, d, lo, hi, sc, field)

static const struct vgp_knob knobs[] = {
    KNOB("window_sec", 300, 10, 86400, VGP_US_PER_SEC, window_us),
    KNOB("min_failures", 6, 2, 100000, 1, min_failures),
    KNOB("min_sessions", 6, 2, SESSION_RING, 1, min_sessions),
    KNOB("short_session_sec", 30, 1, 3600, VGP_US_PER_SEC, short_session_us),
    KNOB("min_session_bytes", 400, 0, 1 << 20, 1, min_session_bytes),
    KNOB("max_session_bytes", 65536, 1024, 1 << 30, 1, max_session_bytes),
    KNOB("settle_sec", 10, 0, 3600, VGP_US_PER_SEC, settle_us),
    KNOB("report_delay_sec", 60, 0, 86400, VGP_US_PER_SEC, report_delay_us),
    KNOB("max_trackers", 16384, 16, 1 << 24, 1, max_trackers),
    KNOB("max_conns", 16384, 16, 1 << 24, 1, max_conns),
    KNOB("parse_limit_kb", 64, 1, 65536, 1024, parse_limit),
};

/* ---- per-connection parser state ------------------------------------------- */

enum pending { P_NONE = 0, P_USER, P_PASS, P_AUTH, P_LOGIN_B64 };

struct line_buf {
    uint16_t len;
    uint8_t overflow;           /* the line was longer; its start is kept */
    char buf[LINE_MAX_];
};

struct http_dir {
    uint8_t in_headers;         /* past the start line of a message */
    uint8_t chunked, head, status_hit;
    int64_t content_length;     /* -1 unknown */
    uint64_t body_left;
};

struct conn {
    uint8_t svc;                /* enum service */
    uint8_t pending;            /* enum pending */
    uint8_t dead[2];            /* stop reading this direction */
    uint8_t ssh_seen;           /* "SSH-" banner seen */
    uint8_t fifo_len;
    uint16_t fifo_auth, fifo_head; /* HTTP requests awaiting answers, oldest bit 0 */
    uint32_t failures;
    int64_t start_us;
    uint64_t parsed[2];
    struct http_dir http[2];
    char tag[16];               /* IMAP tag of the pending command */
    char user[USER_MAX + 1];    /* last user name tried */
    char fifo_user[USER_MAX + 1]; /* HTTP: user of the newest request */
    struct line_buf line[2];
};

/* ---- trackers ------------------------------------------------------------------ */

struct session {
    int64_t ts_us;
    uint32_t client_bytes;
};

struct tracker {
    vigil_addr src, dst;
    uint16_t port;
    uint8_t svc;
    uint8_t armed;
    uint32_t hash;
    struct tracker *hash_next;
    struct tracker *lru_prev, *lru_next;
    struct tracker *arm_prev, *arm_next;
    int64_t bucket_epoch;       /* index of the newest bucket */
    uint32_t buckets[NBUCKETS];
    struct session ring[SESSION_RING];
    uint32_t ring_next;
    /* The report period: everything since the last alert. */
    uint64_t failures, conns;
    uint64_t server_bytes;      /* shape: sum over counted sessions */
    int64_t first_us, last_us, armed_us;
    uint32_t nusers, more_users;
    char users[USER_SAMPLE][USER_MAX + 1];
};

struct bf_stats {
    uint64_t failures, sessions, alerts;
    uint64_t trackers_evicted, conns_refused;
    uint32_t peak_trackers, peak_conns;
};

struct bruteforce {
    const vigil_host_api *host;
    struct bf_config cfg;
    uint16_t ports[SVC_COUNT][PORTS_MAX];
    uint8_t nports[SVC_COUNT];
    uint64_t hash_key;
    struct tracker **buckets;
    uint32_t bucket_mask, ntrackers;
    struct tracker *lru_head, *lru_tail; /* least recently touched first */
    struct tracker *arm_head, *arm_tail; /* in arming order */
    uint32_t nconns;
    int64_t now_us;
    struct bf_stats stats;
};

/* ---- small helpers -------------------------------------------------------------- */

/* s (length n) starts with the vgp_lower-case word w, case-insensitively. */
static int starts_with_ci(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    if (n < wl)
        return 0;
    for (size_t i = 0; i < wl; i++)
        if (vgp_lower((unsigned char)s[i]) != w[i])
            return 0;
    return 1;
}

/* The vgp_lower-case needle occurs in s (length n), case-insensitively. */
static int contains_ci(const char *s, size_t n, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= n; i++)
        if (vgp_lower((unsigned char)s[i]) == needle[0] && starts_with_ci(s + i, n - i, needle))
            return 1;
    return 0;
}

/* Copy a token as a printable user name (others become '?'). */
static void set_user(char *out, const char *s, size_t n)
{
    if (n > USER_MAX)
        n = USER_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c > 0x20 && c < 0x7f && c != ',' ? (char)c : '?';
    }
    out[n] = '\0';
}

/* Next space-separated token of s[*pos..n): its start and length. */
static size_t next_token(const char *s, size_t n, size_t *pos, const char **tok)
{
    size_t i = *pos;
    while (i < n && s[i] == ' ')
        i++;
    size_t start = i;
    while (i < n && s[i] != ' ')
        i++;
    *pos = i;
    *tok = s + start;
    return i - start;
}

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decode base64 (stops at the first non-alphabet byte); returns bytes out. */
static size_t b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            break;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

/* "user:password" -> user (HTTP Basic). */
static void user_from_basic(char *out, const char *b64, size_t n)
{
    uint8_t raw[96];
    size_t len = b64_decode(b64, n, raw, sizeof raw), i = 0;
    while (i < len && raw[i] != ':')
        i++;
    set_user(out, (const char *)raw, i);
}

/* SASL PLAIN "authzid\0authcid\0password" -> authcid. */
static void user_from_plain(char *out, const char *b64, size_t n)
{
    uint8_t raw[96];
    size_t len = b64_decode(b64, n, raw, sizeof raw), i = 0;
    while (i < len && raw[i] != 0)
        i++;
    size_t start = i + 1 < len ? i + 1 : len, end = start;
    while (end < len && raw[end] != 0)
        end++;
    set_user(out, (const char *)raw + start, end - start);
}

static void user_from_b64(char *out, const char *b64, size_t n)
{
    uint8_t raw[64];
    size_t len = b64_decode(b64, n, raw, sizeof raw);
    set_user(out, (const char *)raw, len);
}

/* ---- configuration ------------------------------------------------------------- */

/* "21, 2121" -> ports; -1 on a malformed list. */
static int parse_ports(const char *s, uint16_t *out, size_t cap)
{
    int n = 0;
    while (*s) {
        while (*s == ' ' || *s == ',' || *s == '\t')
            s++;
        if (!*s)
            break;
        if (*s < '0' || *s > '9')
            return -1;
        long v = 0;
        while (*s >= '0' && *s <= '9' && v <= 65535)
            v = v * 10 + (*s++ - '0');
        if (v < 1 || v > 65535 || (size_t)n == cap)
            return -1;
        out[n++] = (uint16_t)v;
    }
    return n;
}

static int read_config(struct bruteforce *bf, vigil_ctx *ctx)
{
    if (vgp_read_knobs(ctx, bf->host, knobs, sizeof knobs / sizeof knobs[0], &bf->cfg) != VIGIL_OK)
        return VIGIL_EINVAL;
    for (int s = 1; s < SVC_COUNT; s++) {
        const char *list = services[s].default_ports;
        int rc = bf->host->config_str(ctx, services[s].ports_key, &list);
        if (rc != VIGIL_OK && rc != VIGIL_ENOENT)
            return VIGIL_EINVAL;
        if (rc == VIGIL_ENOENT)
            list = services[s].default_ports;
        int n = parse_ports(list, bf->ports[s], PORTS_MAX);
        if (n < 0) {
            bf->host->log(ctx, VIGIL_LOG_ERROR, "%s: expected up to %d ports 1-65535",
                          services[s].ports_key, PORTS_MAX);
            return VIGIL_EINVAL;
        }
        bf->nports[s] = (uint8_t)n;
    }
    return VIGIL_OK;
}

static enum service service_of_port(const struct bruteforce *bf, uint16_t port)
{
    for (int s = 1; s < SVC_COUNT; s++)
        for (int i = 0; i < bf->nports[s]; i++)
            if (bf->ports[s][i] == port)
                return (enum service)s;
    return SVC_NONE;
}

/* ---- trackers: table, LRU and armed lists ---------------------------------------- */

static uint32_t tracker_hash(const struct bruteforce *bf, const vigil_addr *src,
                             const vigil_addr *dst, uint16_t port, uint8_t svc)
{
    uint64_t h = bf->hash_key ^ ((uint64_t)port << 8 | svc) ^ ((uint64_t)src->family << 32);
    for (size_t i = 0; i < 16; i += 8) {
        uint64_t a, b;
        memcpy(&a, src->bytes + i, 8);
        memcpy(&b, dst->bytes + i, 8);
        h = vgp_mix64(h ^ a);
        h = vgp_mix64(h ^ b);
    }
    return (uint32_t)(h >> 32);
}

static void lru_unlink(struct bruteforce *bf, struct tracker *t)
{
    if (t->lru_prev)
        t->lru_prev->lru_next = t->lru_next;
    else
        bf->lru_head = t->lru_next;
    if (t->lru_next)
        t->lru_next->lru_prev = t->lru_prev;
    else
        bf->lru_tail = t->lru_prev;
    t->lru_prev = t->lru_next = NULL;
}

static void lru_append(struct bruteforce *bf, struct tracker *t)
{
    t->lru_prev = bf->lru_tail;
    t->lru_next = NULL;
    if (bf->lru_tail)
        bf->lru_tail->lru_next = t;
    else
        bf->lru_head = t;
    bf->lru_tail = t;
}

static void arm(struct bruteforce *bf, struct tracker *t)
{
    t->armed = 1;
    t->armed_us = bf->now_us;
    t->arm_prev = bf->arm_tail;
    t->arm_next = NULL;
    if (bf->arm_tail)
        bf->arm_tail->arm_next = t;
    else
        bf->arm_head = t;
    bf->arm_tail = t;
}

static void disarm(struct bruteforce *bf, struct tracker *t)
{
    if (!t->armed)
        return;
    if (t->arm_prev)
        t->arm_prev->arm_next = t->arm_next;
    else
        bf->arm_head = t->arm_next;
    if (t->arm_next)
        t->arm_next->arm_prev = t->arm_prev;
    else
        bf->arm_tail = t->arm_prev;
    t->arm_prev = t->arm_next = NULL;
    t->armed = 0;
}

static void tracker_remove(struct bruteforce *bf, struct tracker *t)
{
    struct tracker **pp = &bf->buckets[t->hash & bf->bucket_mask];
    while (*pp && *pp != t)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = t->hash_next;
    disarm(bf, t);
    lru_unlink(bf, t);
    bf->ntrackers--;
    free(t);
}

static void report(struct bruteforce *bf, vigil_ctx *ctx, struct tracker *t);

static struct tracker *tracker_get(struct bruteforce *bf, vigil_ctx *ctx, const vigil_addr *src,
                                   const vigil_addr *dst, uint16_t port, uint8_t svc)
{
    vigil_addr s = vgp_addr_norm(src), d = vgp_addr_norm(dst);
    uint32_t h = tracker_hash(bf, &s, &d, port, svc);
    for (struct tracker *t = bf->buckets[h & bf->bucket_mask]; t; t = t->hash_next) {
        if (t->hash == h && t->port == port && t->svc == svc && vgp_addr_eq(&t->src, &s) &&
            vgp_addr_eq(&t->dst, &d)) {
            lru_unlink(bf, t);
            lru_append(bf, t);
            return t;
        }
    }
    if (bf->ntrackers >= (uint64_t)bf->cfg.max_trackers && bf->lru_head) {
        /* The least recently touched goes; what it had found is reported. */
        struct tracker *old = bf->lru_head;
        if (old->armed)
            report(bf, ctx, old);
        tracker_remove(bf, old);
        bf->stats.trackers_evicted++;
    }
    struct tracker *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->src = s;
    t->dst = d;
    t->port = port;
    t->svc = svc;
    t->hash = h;
    t->hash_next = bf->buckets[h & bf->bucket_mask];
    bf->buckets[h & bf->bucket_mask] = t;
    lru_append(bf, t);
    bf->ntrackers++;
    if (bf->ntrackers > bf->stats.peak_trackers)
        bf->stats.peak_trackers = bf->ntrackers;
    return t;
}

/* ---- sliding window ---------------------------------------------------------------- */

static int64_t bucket_width(const struct bruteforce *bf)
{
    return bf->cfg.window_us / NBUCKETS;
}

static void advance_buckets(const struct bruteforce *bf, struct tracker *t)
{
    int64_t epoch = bf->now_us / bucket_width(bf);
    if (epoch <= t->bucket_epoch)
        return;
    int64_t gap = epoch - t->bucket_epoch;
    if (gap >= NBUCKETS)
        memset(t->buckets, 0, sizeof t->buckets);
    else
        for (int64_t e = t->bucket_epoch + 1; e <= epoch; e++)
            t->buckets[e % NBUCKETS] = 0;
    t->bucket_epoch = epoch;
}

static uint64_t window_failures(const struct tracker *t)
{
    uint64_t sum = 0;
    for (int i = 0; i < NBUCKETS; i++)
        sum += t->buckets[i];
    return sum;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sessions in the window whose client bytes lie within a factor 2 of the median. */
static uint32_t similar_sessions(const struct bruteforce *bf, const struct tracker *t,
                                 uint32_t *median_out)
{
    uint32_t sizes[SESSION_RING], n = 0;
    for (int i = 0; i < SESSION_RING; i++)
        if (t->ring[i].ts_us != 0 && t->ring[i].ts_us >= bf->now_us - bf->cfg.window_us)
            sizes[n++] = t->ring[i].client_bytes;
    if (n == 0)
        return 0;
    qsort(sizes, n, sizeof sizes[0], cmp_u32);
    uint64_t median = sizes[n / 2], similar = 0;
    for (uint32_t i = 0; i < n; i++)
        if ((uint64_t)sizes[i] * 2 >= median && sizes[i] <= median * 2)
            similar++;
    if (median_out)
        *median_out = (uint32_t)median;
    return (uint32_t)similar;
}

static void add_user(struct tracker *t, const char *user)
{
    if (user == NULL || user[0] == '\0')
        return;
    for (uint32_t i = 0; i < t->nusers; i++)
        if (strcmp(t->users[i], user) == 0)
            return;
    if (t->nusers < USER_SAMPLE)
        snprintf(t->users[t->nusers++], sizeof t->users[0], "%s", user);
    else
        t->more_users = 1;
}

/* One attempt (a failed login, or a short session) against a tracker. */
static void count_attempt(struct bruteforce *bf, vigil_ctx *ctx, const vigil_stream *st,
                          uint8_t svc, const char *user, int new_conn, uint32_t client_bytes)
{
    struct tracker *t = tracker_get(bf, ctx, &st->client, &st->server, st->server_port, svc);
    if (t == NULL)
        return;
    advance_buckets(bf, t);
    t->buckets[t->bucket_epoch % NBUCKETS]++;
    if (t->failures == 0)
        t->first_us = bf->now_us;
    t->last_us = bf->now_us;
    t->failures++;
    t->conns += new_conn != 0;
    add_user(t, user);
    int holds;
    if (services[svc].by_shape) {
        t->ring[t->ring_next % SESSION_RING] = (struct session){ bf->now_us, client_bytes };
        t->ring_next++;
        t->server_bytes += st->bytes_to_client;
        holds = similar_sessions(bf, t, NULL) >= (uint64_t)bf->cfg.min_sessions;
    } else {
        holds = window_failures(t) >= (uint64_t)bf->cfg.min_failures;
    }
    if (holds && !t->armed)
        arm(bf, t);
}

/* ---- alerts ------------------------------------------------------------------------ */

static void format_users(const struct tracker *t, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < t->nusers && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "", t->users[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static void report(struct bruteforce *bf, vigil_ctx *ctx, struct tracker *t)
{
    const struct service_info *si = &services[t->svc];
    char sig[192], fails[24], conns[24], dur[32], win[24], port[8], users[USER_SAMPLE * 34 + 4];
    char nusers[16], rate[32], median[24], sbytes[24];
    int64_t span = t->last_us - t->first_us;
    const char *what = si->by_shape ? "short sessions" : "failed logins";
    snprintf(sig, sizeof sig, "VIGIL BRUTEFORCE %s (%" PRIu64 " %s)", si->label, t->failures, what);
    snprintf(fails, sizeof fails, "%" PRIu64, t->failures);
    snprintf(conns, sizeof conns, "%" PRIu64, t->conns);
    snprintf(dur, sizeof dur, "%.1f", (double)span / 1e6);
    snprintf(win, sizeof win, "%" PRId64, bf->cfg.window_us / VGP_US_PER_SEC);
    snprintf(port, sizeof port, "%u", (unsigned)t->port);
    snprintf(rate, sizeof rate, "%.1f",
             span > 0 ? (double)t->failures * 60e6 / (double)span : (double)t->failures);
    snprintf(nusers, sizeof nusers, "%" PRIu32 "%s", t->nusers, t->more_users ? "+" : "");
    format_users(t, users, sizeof users);
    vigil_meta meta[12];
    size_t n = 0;
    meta[n++] = (vigil_meta){ "service", si->name };
    meta[n++] = (vigil_meta){ "dst_port", port };
    meta[n++] = (vigil_meta){ si->by_shape ? "sessions" : "failed_logins", fails };
    meta[n++] = (vigil_meta){ "connections", conns };
    meta[n++] = (vigil_meta){ "duration_sec", dur };
    meta[n++] = (vigil_meta){ "attempts_per_min", rate };
    meta[n++] = (vigil_meta){ "window_sec", win };
    if (si->by_shape) {
        uint32_t med = 0;
        (void)similar_sessions(bf, t, &med);
        snprintf(median, sizeof median, "%" PRIu32, med);
        snprintf(sbytes, sizeof sbytes, "%" PRIu64, t->failures ? t->server_bytes / t->failures : 0);
        meta[n++] = (vigil_meta){ "median_client_bytes", median };
        meta[n++] = (vigil_meta){ "mean_server_bytes", sbytes };
    } else {
        meta[n++] = (vigil_meta){ "usernames_distinct", nusers };
        if (t->nusers)
            meta[n++] = (vigil_meta){ "usernames", users };
    }
    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.gid = 1;
    a.signature_id = si->sid;
    a.rev = 1;
    a.severity = 2;
    a.signature = sig;
    a.category = "Attempted User Privilege Gain";
    a.attack_category = "brute_force";
    a.attack_technique = si->technique;
    a.mitre_attack = "T1110.001";
    a.src = t->src;
    a.dst = t->dst;
    a.dport = t->port;
    a.ip_proto = 6;
    a.meta = meta;
    a.meta_count = n;
    bf->host->emit_alert(ctx, &a);
    bf->stats.alerts++;
    /* A new report period starts; another alert needs the threshold again. */
    disarm(bf, t);
    t->failures = t->conns = t->server_bytes = 0;
    t->nusers = t->more_users = 0;
    memset(t->buckets, 0, sizeof t->buckets);
    memset(t->ring, 0, sizeof t->ring);
}

/* ---- line protocols ------------------------------------------------------------------ */

static void failure(struct bruteforce *bf, vigil_ctx *ctx, const vigil_stream *st, struct conn *c)
{
    bf->stats.failures++;
    count_attempt(bf, ctx, st, c->svc, c->user, c->failures == 0, 0);
    c->failures++;
}

/* FTP, SMTP, POP3 and IMAP client commands. */
static void client_line(struct conn *c, const char *s, size_t n)
{
    size_t pos = 0;
    const char *tok;
    if (c->pending == P_LOGIN_B64) {   /* SMTP AUTH LOGIN: the user name */
        user_from_b64(c->user, s, n);
        c->pending = P_AUTH;
        return;
    }
    if (c->svc == SVC_IMAP) {
        size_t tl = next_token(s, n, &pos, &tok);
        if (tl == 0 || tl >= sizeof c->tag)
            return;
        memcpy(c->tag, tok, tl);
        c->tag[tl] = '\0';
    }
    size_t vl = next_token(s, n, &pos, &tok);
    const char *verb = tok;
    if (vl == 0)
        return;
    size_t al = next_token(s, n, &pos, &tok);
    if (starts_with_ci(verb, vl, "starttls") || starts_with_ci(verb, vl, "stls") ||
        (c->svc == SVC_FTP && starts_with_ci(verb, vl, "auth"))) {
        c->dead[0] = c->dead[1] = 1;    /* encrypted from here on */
    } else if (vl == 4 && starts_with_ci(verb, vl, "user")) {
        set_user(c->user, tok, al);
        c->pending = P_USER;
    } else if ((vl == 4 && starts_with_ci(verb, vl, "pass")) ||
               (vl == 4 && starts_with_ci(verb, vl, "apop"))) {
        if (starts_with_ci(verb, vl, "apop"))
            set_user(c->user, tok, al);
        c->pending = P_PASS;
    } else if (vl == 5 && starts_with_ci(verb, vl, "login")) {
        if (al > 0 && tok[0] == '"' && al > 1)
            set_user(c->user, tok + 1, al - 1 - (tok[al - 1] == '"'));
        else
            set_user(c->user, tok, al);
        c->pending = P_AUTH;
    } else if (starts_with_ci(verb, vl, "auth")) { /* AUTH, AUTHENTICATE */
        const char *b64;
        size_t bl = next_token(s, n, &pos, &b64);
        c->user[0] = '\0';
        if (starts_with_ci(tok, al, "plain") && bl > 0)
            user_from_plain(c->user, b64, bl);
        else if (starts_with_ci(tok, al, "login") && bl > 0)
            user_from_b64(c->user, b64, bl);
        c->pending = starts_with_ci(tok, al, "login") && bl == 0 && c->svc == SVC_SMTP
                         ? P_LOGIN_B64 : P_AUTH;
    }
}

/* The reply code of an FTP/SMTP line, or -1; *final: not a continuation. */
static int reply_code(const char *s, size_t n, int *final)
{
    if (n < 3 || s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
        return -1;
    *final = n == 3 || s[3] == ' ';
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}

/* Whether a server line is the verdict on a pending login: 1 failed, 0 no verdict, -1 ok. */
static int server_verdict(struct conn *c, const char *s, size_t n)
{
    int final = 0, code;
    switch (c->svc) {
    case SVC_FTP:
        code = reply_code(s, n, &final);
        if (!final || (c->pending != P_USER && c->pending != P_PASS))
            return 0;
        return code == 530 ? 1 : code == 230 ? -1 : 0;
    case SVC_SMTP:
        code = reply_code(s, n, &final);
        if (!final || c->pending != P_AUTH)
            return 0;
        return code == 535 ? 1 : (code == 235 || (code >= 500 && code != 535)) ? -1 : 0;
    case SVC_POP3:
        if (c->pending != P_PASS && c->pending != P_AUTH)
            return 0;
        return starts_with_ci(s, n, "-err") ? 1 : starts_with_ci(s, n, "+ok") ? -1 : 0;
    case SVC_IMAP: {
        size_t tl = strlen(c->tag), pos = 0;
        const char *tok;
        if (c->pending != P_AUTH || tl == 0 || n <= tl || memcmp(s, c->tag, tl) != 0 ||
            s[tl] != ' ')
            return 0;
        pos = tl;
        size_t wl = next_token(s, n, &pos, &tok);
        return wl == 2 && starts_with_ci(tok, wl, "no") ? 1 : -1;
    }
    case SVC_TELNET:
        return contains_ci(s, n, "login incorrect") || contains_ci(s, n, "login failed") ||
               contains_ci(s, n, "authentication fail") || contains_ci(s, n, "access denied") ||
               contains_ci(s, n, "invalid password");
    default:
        return 0;
    }
}

/* ---- HTTP ------------------------------------------------------------------------------ */

static int64_t parse_length(const char *s, size_t n)
{
    size_t i = 0;
    int64_t v = 0;
    while (i < n && s[i] == ' ')
        i++;
    if (i == n || s[i] < '0' || s[i] > '9')
        return -1;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static void http_request_line(struct conn *c, const char *s, size_t n)
{
    struct http_dir *h = &c->http[VIGIL_DIR_TO_SERVER];
    if (!h->in_headers) {
        if (n == 0)
            return;             /* stray CRLF between requests */
        size_t i = 0;
        while (i < n && s[i] >= 'A' && s[i] <= 'Z')
            i++;
        if (i == 0 || i >= n || s[i] != ' ') {
            c->dead[0] = c->dead[1] = 1;        /* not HTTP/1 */
            return;
        }
        if (c->fifo_len == FIFO_MAX) {
            c->dead[0] = c->dead[1] = 1;        /* responses lost track */
            return;
        }
        uint16_t bit = (uint16_t)(1u << c->fifo_len);
        c->fifo_auth &= (uint16_t)~bit;
        c->fifo_head = (uint16_t)(starts_with_ci(s, n, "head ") ? c->fifo_head | bit
                                                                 : c->fifo_head & ~bit);
        c->fifo_len++;
        h->in_headers = 1;
        h->content_length = 0;
        h->chunked = 0;
        return;
    }
    if (n == 0) {               /* end of headers */
        h->in_headers = 0;
        if (h->chunked)
            c->dead[0] = 1;     /* chunked request bodies are not followed */
        else
            h->body_left = (uint64_t)h->content_length;
        return;
    }
    if (starts_with_ci(s, n, "authorization:")) {
        size_t pos = 14;
        const char *tok;
        size_t sl = next_token(s, n, &pos, &tok);
        int basic = sl == 5 && starts_with_ci(tok, sl, "basic");
        if (basic || (sl == 6 && starts_with_ci(tok, sl, "digest"))) {
            c->fifo_auth |= (uint16_t)(1u << (c->fifo_len - 1));
            c->fifo_user[0] = '\0';
            if (basic) {
                size_t bl = next_token(s, n, &pos, &tok);
                user_from_basic(c->fifo_user, tok, bl);
            }
        }
    } else if (starts_with_ci(s, n, "content-length:")) {
        h->content_length = parse_length(s + 15, n - 15);
        if (h->content_length < 0)
            c->dead[0] = 1;
    } else if (starts_with_ci(s, n, "transfer-encoding:") && contains_ci(s, n, "chunked")) {
        h->chunked = 1;
    }
}

static void http_response_line(struct bruteforce *bf, vigil_ctx *ctx, const vigil_stream *st,
                               struct conn *c, const char *s, size_t n)
{
    struct http_dir *h = &c->http[VIGIL_DIR_TO_CLIENT];
    if (!h->in_headers) {
        if (n == 0)
            return;
        if (n < 12 || !starts_with_ci(s, n, "http/") || s[8] != ' ') {
            c->dead[1] = 1;
            return;
        }
        int status = parse_length(s + 9, 3) >= 0 ? (int)parse_length(s + 9, 3) : 0;
        h->in_headers = 1;
        h->content_length = -1;
        h->chunked = 0;
        h->status_hit = (uint8_t)(status / 100 == 1 ? 1 : 0); /* 1xx: not the answer */
        if (h->status_hit || c->fifo_len == 0)
            return;
        int had_auth = c->fifo_auth & 1, head = c->fifo_head & 1;
        c->fifo_auth >>= 1;
        c->fifo_head >>= 1;
        c->fifo_len--;
        h->head = (uint8_t)(head || status == 204 || status == 304);
        if (status == 401 && had_auth) {
            snprintf(c->user, sizeof c->user, "%s", c->fifo_user);
            failure(bf, ctx, st, c);
        }
        return;
    }
    if (n == 0) {
        h->in_headers = 0;
        if (h->status_hit)
            return;             /* 1xx has no body; the real status follows */
        if (h->head)
            h->body_left = 0;
        else if (h->chunked || h->content_length < 0)
            c->dead[1] = 1;     /* body ends with a chunk or the connection */
        else
            h->body_left = (uint64_t)h->content_length;
        return;
    }
    if (starts_with_ci(s, n, "content-length:"))
        h->content_length = parse_length(s + 15, n - 15);
    else if (starts_with_ci(s, n, "transfer-encoding:") && contains_ci(s, n, "chunked"))
        h->chunked = 1;
}

/* ---- stream data -------------------------------------------------------------------- */

static void on_line(struct bruteforce *bf, vigil_ctx *ctx, const vigil_stream *st,
                    struct conn *c, uint32_t dir, const char *s, size_t n)
{
    if (c->svc == SVC_HTTP) {
        if (dir == VIGIL_DIR_TO_SERVER)
            http_request_line(c, s, n);
        else
            http_response_line(bf, ctx, st, c, s, n);
        return;
    }
    if (dir == VIGIL_DIR_TO_SERVER) {
        if (c->svc != SVC_TELNET)
            client_line(c, s, n);
        return;
    }
    int v = server_verdict(c, s, n);
    if (v > 0)
        failure(bf, ctx, st, c);
    if (v != 0 && c->svc != SVC_TELNET)
        c->pending = P_NONE;
}

static void feed(struct bruteforce *bf, vigil_ctx *ctx, const vigil_stream *st, struct conn *c)
{
    uint32_t dir = st->dir ? 1 : 0;
    struct line_buf *lb = &c->line[dir];
    const uint8_t *p = st->data;
    size_t n = st->len;
    while (n > 0 && !c->dead[dir]) {
        struct http_dir *h = &c->http[dir];
        if (h->body_left > 0) {     /* HTTP body: skipped, not read */
            size_t skip = h->body_left < n ? (size_t)h->body_left : n;
            h->body_left -= skip;
            p += skip;
            n -= skip;
            continue;
        }
        if (c->parsed[dir]++ >= (uint64_t)bf->cfg.parse_limit) {
            c->dead[dir] = 1;
            break;
        }
        uint8_t b = *p++;
        n--;
        if (b == '\n') {
            size_t len = lb->len;
            if (len > 0 && lb->buf[len - 1] == '\r')
                len--;
            on_line(bf, ctx, st, c, dir, lb->buf, len);
            lb->len = 0;
            lb->overflow = 0;
        } else if (lb->len < LINE_MAX_) {
            lb->buf[lb->len++] = (char)b;
        } else {
            lb->overflow = 1;
        }
    }
}

/* ---- connections ------------------------------------------------------------------- */

static struct conn *conn_new(struct bruteforce *bf, vigil_ctx *ctx, uint8_t svc, int64_t now)
{
    if (bf->nconns >= (uint64_t)bf->cfg.max_conns) {
        bf->stats.conns_refused++;
        return NULL;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (bf->host->set_flow_state(ctx, c) != VIGIL_OK) {
        free(c);
        return NULL;
    }
    c->svc = svc;
    c->start_us = now;
    bf->nconns++;
    if (bf->nconns > bf->stats.peak_conns)
        bf->stats.peak_conns = bf->nconns;
    return c;
}

/* A finished SSH/RDP connection: an attempt if short, small and past the handshake. */
static void session_ended(struct bruteforce *bf, vigil_ctx *ctx, const vigil_stream *st,
                          struct conn *c)
{
    if (!services[c->svc].by_shape)
        return;
    if (c->svc == SVC_SSH && !c->ssh_seen)
        return;                 /* not SSH after all: no banner */
    if (st->ts_us - c->start_us > bf->cfg.short_session_us ||
        st->bytes_to_server < (uint64_t)bf->cfg.min_session_bytes ||
        st->bytes_to_client > (uint64_t)bf->cfg.max_session_bytes || st->bytes_to_client == 0)
        return;
    bf->stats.sessions++;
    uint32_t cb = st->bytes_to_server > UINT32_MAX ? UINT32_MAX : (uint32_t)st->bytes_to_server;
    count_attempt(bf, ctx, st, c->svc, NULL, 1, cb);
}

/*
 * Most HTTP connections carry no credentials and need no state. One is
 * followed from the first client segment that holds an Authorization
 * header whose request starts that segment; its responses are read from
 * the next server segment on. Clients that do not pipeline (nearly all)
 * have had every earlier answer by then, so the pairing stays right.
 */
static struct conn *http_conn(struct bruteforce *bf, vigil_ctx *ctx, const vigil_stream *st)
{
    if (st->dir != VIGIL_DIR_TO_SERVER || st->len < 16 || st->data[0] < 'A' || st->data[0] > 'Z')
        return NULL;
    if (!contains_ci((const char *)st->data, st->len, "\nauthorization:"))
        return NULL;
    return conn_new(bf, ctx, SVC_HTTP, st->ts_us);
}

static int is_ssh_banner(const vigil_stream *st)
{
    return st->offset == 0 && st->len >= 4 && memcmp(st->data, "SSH-", 4) == 0;
}

static void bf_on_stream(void *state, vigil_ctx *ctx, const vigil_stream *st)
{
    struct bruteforce *bf = state;
    if (st->ts_us > bf->now_us)
        bf->now_us = st->ts_us;
    if (st->server.family != 4 && st->server.family != 6)
        return;
    switch (st->event) {
    case VIGIL_STREAM_ESTABLISHED: {
        /* HTTP connections get state only when credentials show up. */
        enum service svc = service_of_port(bf, st->server_port);
        if (svc != SVC_NONE && svc != SVC_HTTP)
            (void)conn_new(bf, ctx, (uint8_t)svc, st->ts_us);
        return;
    }
    case VIGIL_STREAM_DATA: {
        struct conn *c = NULL;
        if (st->len == 0 || st->data == NULL)
            return;
        if (is_ssh_banner(st)) {    /* SSH on any port */
            c = bf->host->flow_state(ctx);
            if (c == NULL)
                c = conn_new(bf, ctx, SVC_SSH, st->ts_us);
            if (c && (c->svc == SVC_SSH || c->svc == SVC_NONE)) {
                c->svc = SVC_SSH;
                c->ssh_seen = 1;
            }
            return;
        }
        enum service svc = service_of_port(bf, st->server_port);
        if (svc == SVC_NONE)
            return;
        c = bf->host->flow_state(ctx);
        if (c == NULL && svc == SVC_HTTP)
            c = http_conn(bf, ctx, st);
        if (c && !services[c->svc].by_shape)
            feed(bf, ctx, st, c);
        return;
    }
    case VIGIL_STREAM_CLOSED:
    case VIGIL_STREAM_RESET:
    case VIGIL_STREAM_TIMEOUT: {
        struct conn *c = bf->host->flow_state(ctx);
        if (c) {
            session_ended(bf, ctx, st, c);
            bf->host->set_flow_state(ctx, NULL); /* frees c through flow_free */
        }
        return;
    }
    default:
        return;                 /* END: still open, not a finished attempt */
    }
}

/* ---- time and reporting --------------------------------------------------------------- */

static int ready(const struct bruteforce *bf, const struct tracker *t)
{
    return bf->now_us - t->last_us >= bf->cfg.settle_us ||
           bf->now_us - t->armed_us >= bf->cfg.report_delay_us;
}

static void bf_on_tick(void *state, vigil_ctx *ctx, int64_t now_us)
{
    struct bruteforce *bf = state;
    if (now_us > bf->now_us)
        bf->now_us = now_us;
    for (struct tracker *t = bf->arm_head, *next; t; t = next) {
        next = t->arm_next;
        if (ready(bf, t))
            report(bf, ctx, t);
    }
    /* Idle trackers expire, least recently touched first. */
    while (bf->lru_head && !bf->lru_head->armed &&
           bf->lru_head->last_us < bf->now_us - bf->cfg.window_us)
        tracker_remove(bf, bf->lru_head);
}

static void bf_on_finish(void *state, vigil_ctx *ctx)
{
    struct bruteforce *bf = state;
    while (bf->arm_head)
        report(bf, ctx, bf->arm_head);
    bf->host->log(ctx, VIGIL_LOG_INFO,
                  "failures=%" PRIu64 " short_sessions=%" PRIu64 " alerts=%" PRIu64
                  " peak_trackers=%" PRIu32 " trackers_evicted=%" PRIu64
                  " peak_conns=%" PRIu32 " conns_refused=%" PRIu64,
                  bf->stats.failures, bf->stats.sessions, bf->stats.alerts,
                  bf->stats.peak_trackers, bf->stats.trackers_evicted, bf->stats.peak_conns,
                  bf->stats.conns_refused);
}

static void bf_flow_free(void *state, void *flow_state)
{
    struct bruteforce *bf = state;
    if (flow_state == NULL)
        return;
    bf->nconns--;
    free(flow_state);
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int bf_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    struct bruteforce *bf = calloc(1, sizeof *bf);
    if (bf == NULL)
        return VIGIL_ENOMEM;
    bf->host = host;
    int rc = read_config(bf, ctx);
    if (rc != VIGIL_OK) {
        free(bf);
        return rc;
    }
    uint32_t nb = vgp_pow2_at_least((uint64_t)bf->cfg.max_trackers, 1u << 24);
    bf->buckets = calloc(nb, sizeof *bf->buckets);
    if (bf->buckets == NULL) {
        free(bf);
        return VIGIL_ENOMEM;
    }
    bf->bucket_mask = nb - 1;
    /* Bucket choice only; alerts never depend on it. */
    bf->hash_key = vgp_mix64((uint64_t)(uintptr_t)bf ^ 0x9e3779b97f4a7c15ULL);
    *state = bf;
    return VIGIL_OK;
}

static void bf_fini(void *state)
{
    struct bruteforce *bf = state;
    if (bf == NULL)
        return;
    while (bf->lru_head)
        tracker_remove(bf, bf->lru_head);
    free(bf->buckets);
    free(bf);
}

static const vigil_plugin bruteforce_plugin = {
    VIGIL_PLUGIN_HEADER,
    .name = "bruteforce",
    .version = "1.0.0",
    .description = "password guessing: many failed logins (FTP, HTTP, telnet, SMTP, POP3, "
                   "IMAP) or short SSH/RDP sessions from one source to one server",
    .init = bf_init,
    .fini = bf_fini,
    .on_stream = bf_on_stream,
    .on_tick = bf_on_tick,
    .on_finish = bf_on_finish,
    .flow_free = bf_flow_free,
};

VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void)
{
    return &bruteforce_plugin;
}
