/*
 * parse.c - the rule language: header (action, protocol, addresses,
 * ports, direction), options, variables and classification.config. Pure
 * C with no library: match.c compiles the pcre items afterwards.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sig.h"

#define MAX_NEST 8              /* variables within variables, [ [ ] ] */

/* ---- small helpers ---------------------------------------------------------- */

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

static int eqn(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncmp(s, word, n) == 0;
}

static int eqn_ci(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* A decimal (or 0x hex) integer within [lo, hi] filling exactly s[0..n). */
static int parse_i64(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    char buf[32];
    trim(&s, &n);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long v;
    if (n > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'))
        v = (long long)strtoull(buf + 2, &end, 16);
    else
        v = strtoll(buf, &end, 10);
    if (errno || *end != '\0' || end == buf || (buf[0] == '+'))
        return -1;
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void seterr(struct sig_parse_err *e, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(struct sig_parse_err *e, int col, const char *fmt, ...)
{
    va_list ap;
    e->column = col;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

/* ---- numbers --------------------------------------------------------------------- */

int sig_num_match(const struct sig_num *n, int64_t x)
{
    switch (n->op) {
    case NUM_EQ: return x == n->a;
    case NUM_LT: return x < n->a;
    case NUM_GT: return x > n->a;
    case NUM_LE: return x <= n->a;
    case NUM_GE: return x >= n->a;
    case NUM_RANGE: return x > n->a && x < n->b;
    case NUM_NE: return x != n->a;
    default: return 1;
    }
}

/* "n", "<n", ">n", "<=n", ">=n", "!n", "a<>b", "a-b" (exclusive range). */
static int parse_num(const char *s, size_t n, int64_t max, struct sig_num *out)
{
    trim(&s, &n);
    memset(out, 0, sizeof *out);
    if (n == 0)
        return -1;
    for (size_t i = 1; i + 1 < n; i++) {
        if ((s[i] == '<' && s[i + 1] == '>') || s[i] == '-') {
            size_t skip = s[i] == '-' ? 1 : 2;
            if (parse_i64(s, i, 0, max, &out->a) < 0 ||
                parse_i64(s + i + skip, n - i - skip, 0, max, &out->b) < 0 || out->a >= out->b)
                return -1;
            out->op = NUM_RANGE;
            return 0;
        }
    }
    size_t k = 0;
    if (n >= 2 && s[0] == '<' && s[1] == '=') { out->op = NUM_LE; k = 2; }
    else if (n >= 2 && s[0] == '>' && s[1] == '=') { out->op = NUM_GE; k = 2; }
    else if (s[0] == '<') { out->op = NUM_LT; k = 1; }
    else if (s[0] == '>') { out->op = NUM_GT; k = 1; }
    else if (s[0] == '!') { out->op = NUM_NE; k = 1; }
    else if (s[0] == '=') { out->op = NUM_EQ; k = 1; }
    else out->op = NUM_EQ;
    if (parse_i64(s + k, n - k, 0, max, &out->a) < 0)
        return -1;
    return 0;
}

/* ---- variables ------------------------------------------------------------------------ */

static const char *var_value(const struct sig_vars *vars, const char *name, size_t n)
{
    for (size_t i = 0; vars && i < vars->n; i++)
        if (strlen(vars->v[i].name) == n && strncasecmp(vars->v[i].name, name, n) == 0)
            return vars->v[i].value;
    return NULL;
}

/* ---- address lists ------------------------------------------------------------------- */

void sig_addr_free(struct sig_addr_group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->items[i].sub) {
            sig_addr_free(g->items[i].sub);
            free(g->items[i].sub);
        }
    }
    free(g->items);
    g->items = NULL;
    g->n = 0;
}

static struct sig_addr_item *addr_push(struct sig_addr_group *g)
{
    struct sig_addr_item *it = realloc(g->items, (g->n + 1) * sizeof *it);
    if (it == NULL)
        return NULL;
    g->items = it;
    memset(&it[g->n], 0, sizeof *it);
    return &it[g->n++];
}

/* Split a list body at top-level commas; calls fn for each element. */
typedef int (*elem_fn)(const char *s, size_t n, void *arg);
static int split_list(const char *s, size_t n, elem_fn fn, void *arg)
{
    int depth = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] == '[')
            depth++;
        else if (i < n && s[i] == ']')
            depth--;
        if (depth < 0)
            return -1;
        if (i == n || (s[i] == ',' && depth == 0)) {
            if (fn(s + start, i - start, arg) < 0)
                return -1;
            start = i + 1;
        }
    }
    return depth == 0 ? 0 : -1;
}

struct addr_ctx {
    struct sig_addr_group *g;
    const struct sig_vars *vars;
    char *why;
    size_t whylen;
    int depth;
};

static int parse_cidr(const char *s, size_t n, struct sig_addr_item *it)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    int fam;
    if (strchr(buf, ':')) {
        fam = 6;
        unsigned v16[8] = { 0 };
        /* IPv6: let a tiny parser handle '::' compression */
        const char *p = buf;
        int head = 0, tail = -1, cnt = 0;
        unsigned tailv[8];
        int tcnt = 0;
        if (p[0] == ':' && p[1] == ':') {
            tail = 0;
            p += 2;
        }
        while (*p) {
            char *end;
            unsigned long v = strtoul(p, &end, 16);
            if (end == p || end - p > 4 || v > 0xffff)
                return -1;
            if (tail >= 0) {
                if (tcnt == 8)
                    return -1;
                tailv[tcnt++] = (unsigned)v;
            } else {
                if (head == 8)
                    return -1;
                v16[head++] = (unsigned)v;
            }
            cnt++;
            p = end;
            if (*p == ':') {
                if (p[1] == ':') {
                    if (tail >= 0)
                        return -1;
                    tail = 0;
                    p += 2;
                } else {
                    p++;
                    if (*p == '\0')
                        return -1;
                }
            } else if (*p) {
                return -1;
            }
        }
        if (tail < 0 && head != 8)
            return -1;
        if (head + tcnt > (tail >= 0 ? 7 : 8))
            return -1;
        for (int i = 0; i < tcnt; i++)
            v16[8 - tcnt + i] = tailv[i];
        for (int i = 0; i < 8; i++) {
            it->bytes[2 * i] = (uint8_t)(v16[i] >> 8);
            it->bytes[2 * i + 1] = (uint8_t)v16[i];
        }
        (void)cnt;
    } else {
        fam = 4;
        unsigned a[4];
        int used = 0;
        if (sscanf(buf, "%3u.%3u.%3u.%3u%n", &a[0], &a[1], &a[2], &a[3], &used) != 4 ||
            (size_t)used != strlen(buf) || a[0] > 255 || a[1] > 255 || a[2] > 255 || a[3] > 255)
            return -1;
        for (int i = 0; i < 4; i++)
            it->bytes[i] = (uint8_t)a[i];
    }
    int bits = fam == 4 ? 32 : 128;
    if (slash) {
        int64_t b;
        const char *pb = slash + 1;
        if (fam == 4 && strchr(pb, '.')) {
            return -1;      /* dotted masks are not in the subset */
        }
        if (parse_i64(pb, strlen(pb), 0, bits, &b) < 0)
            return -1;
        bits = (int)b;
    }
    it->kind = SIG_AI_CIDR;
    it->family = (uint8_t)fam;
    it->prefix = (uint8_t)bits;
    return 0;
}

static int addr_elem(const char *s, size_t n, void *arg)
{
    struct addr_ctx *c = arg;
    trim(&s, &n);
    if (n == 0) {
        snprintf(c->why, c->whylen, "empty address");
        return -1;
    }
    int neg = 0;
    while (n > 0 && *s == '!') {
        neg ^= 1;
        s++;
        n--;
        trim(&s, &n);
    }
    struct sig_addr_item *it = addr_push(c->g);
    if (it == NULL) {
        snprintf(c->why, c->whylen, "out of memory");
        return -1;
    }
    it->neg = (uint8_t)neg;
    if (eqn_ci(s, n, "any")) {
        it->kind = SIG_AI_ANY;
        return 0;
    }
    if (n > 0 && (*s == '[' || *s == '$')) {
        it->kind = SIG_AI_GROUP;
        it->sub = calloc(1, sizeof *it->sub);
        if (it->sub == NULL) {
            snprintf(c->why, c->whylen, "out of memory");
            return -1;
        }
        if (*s == '$') {
            const char *val = var_value(c->vars, s + 1, n - 1);
            if (eqn_ci(s + 1, n - 1, "HOME_NET") && (val == NULL && c->vars && c->vars->home_default)) {
                struct sig_addr_item *h = addr_push(it->sub);
                if (h == NULL)
                    return -1;
                h->kind = SIG_AI_HOME;
                return 0;
            }
            if (val == NULL && eqn_ci(s + 1, n - 1, "EXTERNAL_NET")) {
                val = "!$HOME_NET";
            }
            if (val == NULL) {
                snprintf(c->why, c->whylen, "undefined variable %.*s", (int)n, s);
                return -1;
            }
            return sig_parse_addr(val, strlen(val), c->vars, it->sub, c->why, c->whylen,
                                  c->depth + 1);
        }
        if (s[n - 1] != ']') {
            snprintf(c->why, c->whylen, "unbalanced [ in address list");
            return -1;
        }
        return sig_parse_addr(s + 1, n - 2, c->vars, it->sub, c->why, c->whylen, c->depth + 1);
    }
    if (parse_cidr(s, n, it) < 0) {
        snprintf(c->why, c->whylen, "bad address '%.*s'", (int)(n > 60 ? 60 : n), s);
        return -1;
    }
    return 0;
}

int sig_parse_addr(const char *s, size_t len, const struct sig_vars *vars,
                   struct sig_addr_group *g, char *why, size_t whylen, int depth)
{
    if (depth > MAX_NEST) {
        snprintf(why, whylen, "address list nested too deep (variable loop?)");
        return -1;
    }
    trim(&s, &len);
    struct addr_ctx c = { g, vars, why, whylen, depth };
    why[0] = '\0';
    if (split_list(s, len, addr_elem, &c) < 0) {
        if (why[0] == '\0')
            snprintf(why, whylen, "unbalanced brackets in address list");
        return -1;
    }
    return 0;
}

static int prefix_match(const struct sig_addr_item *it, const uint8_t *bytes)
{
    unsigned bits = it->prefix, i = 0;
    for (; bits >= 8; bits -= 8, i++)
        if (it->bytes[i] != bytes[i])
            return 0;
    if (bits) {
        uint8_t m = (uint8_t)(0xff << (8 - bits));
        if ((it->bytes[i] & m) != (bytes[i] & m))
            return 0;
    }
    return 1;
}

static int item_match(const struct sig_addr_item *it, uint8_t family, const uint8_t *bytes,
                      sig_home_fn home, void *user)
{
    switch (it->kind) {
    case SIG_AI_ANY: return 1;
    case SIG_AI_CIDR: return it->family == family && prefix_match(it, bytes);
    case SIG_AI_HOME: return home ? home(user, family, bytes) : 0;
    default: return sig_addr_match(it->sub, family, bytes, home, user);
    }
}

int sig_addr_match(const struct sig_addr_group *g, uint8_t family, const uint8_t *bytes,
                   sig_home_fn home, void *user)
{
    int have_pos = 0, pos = 0;
    for (size_t i = 0; i < g->n; i++) {
        const struct sig_addr_item *it = &g->items[i];
        int m = item_match(it, family, bytes, home, user);
        if (it->neg) {
            if (m)
                return 0;
        } else {
            have_pos = 1;
            pos |= m;
        }
    }
    return have_pos ? pos : 1;
}

/* ---- port lists ------------------------------------------------------------------------- */

void sig_ports_free(struct sig_port_group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->items[i].sub) {
            sig_ports_free(g->items[i].sub);
            free(g->items[i].sub);
        }
    }
    free(g->items);
    g->items = NULL;
    g->n = 0;
}

struct port_ctx {
    struct sig_port_group *g;
    const struct sig_vars *vars;
    char *why;
    size_t whylen;
    int depth;
};

static int port_elem(const char *s, size_t n, void *arg)
{
    struct port_ctx *c = arg;
    trim(&s, &n);
    int neg = 0;
    while (n > 0 && *s == '!') {
        neg ^= 1;
        s++;
        n--;
        trim(&s, &n);
    }
    if (n == 0) {
        snprintf(c->why, c->whylen, "empty port");
        return -1;
    }
    struct sig_port_item *it = realloc(c->g->items, (c->g->n + 1) * sizeof *it);
    if (it == NULL) {
        snprintf(c->why, c->whylen, "out of memory");
        return -1;
    }
    c->g->items = it;
    it = &it[c->g->n++];
    memset(it, 0, sizeof *it);
    it->neg = (uint8_t)neg;
    if (eqn_ci(s, n, "any")) {
        it->kind = SIG_PI_ANY;
        return 0;
    }
    if (*s == '[' || *s == '$') {
        it->kind = SIG_PI_GROUP;
        it->sub = calloc(1, sizeof *it->sub);
        if (it->sub == NULL)
            return -1;
        if (*s == '$') {
            const char *val = var_value(c->vars, s + 1, n - 1);
            if (val == NULL) {
                snprintf(c->why, c->whylen, "undefined variable %.*s", (int)n, s);
                return -1;
            }
            return sig_parse_ports(val, strlen(val), c->vars, it->sub, c->why, c->whylen,
                                   c->depth + 1);
        }
        if (s[n - 1] != ']') {
            snprintf(c->why, c->whylen, "unbalanced [ in port list");
            return -1;
        }
        return sig_parse_ports(s + 1, n - 2, c->vars, it->sub, c->why, c->whylen, c->depth + 1);
    }
    it->kind = SIG_PI_RANGE;
    const char *colon = memchr(s, ':', n);
    int64_t lo = 0, hi = 65535;
    if (colon) {
        size_t a = (size_t)(colon - s), b = n - a - 1;
        if ((a > 0 && parse_i64(s, a, 0, 65535, &lo) < 0) ||
            (b > 0 && parse_i64(colon + 1, b, 0, 65535, &hi) < 0) || (a == 0 && b == 0) ||
            lo > hi) {
            snprintf(c->why, c->whylen, "bad port range '%.*s'", (int)(n > 40 ? 40 : n), s);
            return -1;
        }
    } else {
        if (parse_i64(s, n, 0, 65535, &lo) < 0) {
            snprintf(c->why, c->whylen, "bad port '%.*s'", (int)(n > 40 ? 40 : n), s);
            return -1;
        }
        hi = lo;
    }
    it->lo = (uint16_t)lo;
    it->hi = (uint16_t)hi;
    return 0;
}

int sig_parse_ports(const char *s, size_t len, const struct sig_vars *vars,
                    struct sig_port_group *g, char *why, size_t whylen, int depth)
{
    if (depth > MAX_NEST) {
        snprintf(why, whylen, "port list nested too deep (variable loop?)");
        return -1;
    }
    trim(&s, &len);
    struct port_ctx c = { g, vars, why, whylen, depth };
    why[0] = '\0';
    if (split_list(s, len, port_elem, &c) < 0) {
        if (why[0] == '\0')
            snprintf(why, whylen, "unbalanced brackets in port list");
        return -1;
    }
    return 0;
}

int sig_port_match(const struct sig_port_group *g, uint16_t port)
{
    int have_pos = 0, pos = 0;
    for (size_t i = 0; i < g->n; i++) {
        const struct sig_port_item *it = &g->items[i];
        int m;
        if (it->kind == SIG_PI_ANY)
            m = 1;
        else if (it->kind == SIG_PI_RANGE)
            m = port >= it->lo && port <= it->hi;
        else
            m = sig_port_match(it->sub, port);
        if (it->neg) {
            if (m)
                return 0;
        } else {
            have_pos = 1;
            pos |= m;
        }
    }
    return have_pos ? pos : 1;
}

/* ---- rules ------------------------------------------------------------------------------ */

void sig_rule_free(struct sig_rule *r)
{
    sig_addr_free(&r->src);
    sig_addr_free(&r->dst);
    sig_ports_free(&r->sport);
    sig_ports_free(&r->dport);
    free(r->file);
    free(r->msg);
    free(r->classtype);
    for (size_t i = 0; i < r->nmeta; i++) {
        free(r->meta[i].key);
        free(r->meta[i].value);
    }
    free(r->meta);
    for (size_t i = 0; i < r->nflowbits; i++) {
        for (size_t j = 0; j < r->flowbits[i].n; j++)
            free(r->flowbits[i].names[j]);
        free(r->flowbits[i].names);
        free(r->flowbits[i].ids);
    }
    free(r->flowbits);
    for (size_t i = 0; i < r->nsm; i++) {
        free(r->sm[i].pat);
        free(r->sm[i].re_src);
        /* re_code / re_md are released by match.c (sig_rule_release) */
    }
    free(r->sm);
    for (size_t i = 0; i < r->nvars; i++)
        free(r->var_names[i]);
    memset(r, 0, sizeof *r);
}

/* The option parser's view of one "name: value;" */
struct opt {
    const char *name;
    size_t nlen;
    const char *val;            /* NULL when there is no ':' */
    size_t vlen;
    int col;                    /* 1-based column of the name */
    int vcol;                   /* of the value */
};

/* Unescape a quoted string value into out (\" \; \\ \: and others kept). */
static int unquote(const char *s, size_t n, char **out, size_t *outlen)
{
    trim(&s, &n);
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return -1;
    s++;
    n -= 2;
    char *d = malloc(n + 1);
    if (d == NULL)
        return -2;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            d[k++] = s[++i];
        } else if (s[i] == '"') {
            free(d);
            return -1;      /* an unescaped quote inside */
        } else {
            d[k++] = s[i];
        }
    }
    d[k] = '\0';
    *out = d;
    if (outlen)
        *outlen = k;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* content string (already unquoted) with |41 42| hex sections -> bytes. */
static int content_bytes(const char *s, size_t n, uint8_t **out, uint32_t *outlen,
                         char *why, size_t whylen)
{
    uint8_t *d = malloc(n + 1);
    if (d == NULL)
        return -2;
    size_t k = 0;
    int hex = 0, half = -1;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '|') {
            if (hex && half >= 0) {
                snprintf(why, whylen, "odd number of hex digits");
                free(d);
                return -1;
            }
            hex = !hex;
            continue;
        }
        if (hex) {
            if (ch == ' ' || ch == '\t')
                continue;
            int v = hexval((unsigned char)ch);
            if (v < 0) {
                snprintf(why, whylen, "bad hex digit '%c'", ch);
                free(d);
                return -1;
            }
            if (half < 0) {
                half = v;
            } else {
                d[k++] = (uint8_t)(half << 4 | v);
                half = -1;
            }
        } else {
            d[k++] = (uint8_t)ch;
        }
    }
    if (hex) {
        snprintf(why, whylen, "unterminated |hex| section");
        free(d);
        return -1;
    }
    if (k == 0) {
        snprintf(why, whylen, "empty content");
        free(d);
        return -1;
    }
    if (k > SIG_MAX_CONTENT) {
        snprintf(why, whylen, "content longer than %d bytes", SIG_MAX_CONTENT);
        free(d);
        return -1;
    }
    *out = d;
    *outlen = (uint32_t)k;
    return 0;
}

static struct sig_sm *sm_push(struct sig_rule *r)
{
    struct sig_sm *a = realloc(r->sm, (r->nsm + 1) * sizeof *a);
    if (a == NULL)
        return NULL;
    r->sm = a;
    struct sig_sm *m = &a[r->nsm++];
    memset(m, 0, sizeof *m);
    for (int i = 0; i < POS_COUNT; i++) {
        m->pos[i] = SIG_UNSET;
        m->pos_var[i] = -1;
    }
    m->offset_var = m->value_var = m->var = -1;
    return m;
}

static struct sig_sm *last_content(struct sig_rule *r)
{
    if (r->nsm > 0 && r->sm[r->nsm - 1].type == SM_CONTENT)
        return &r->sm[r->nsm - 1];
    return NULL;
}

static int find_var(const struct sig_rule *r, const char *s, size_t n)
{
    for (int i = 0; i < r->nvars; i++)
        if (eqn(s, n, r->var_names[i]))
            return i;
    return -1;
}

/* An integer or a byte_extract variable name. */
static int int_or_var(const struct sig_rule *r, const char *s, size_t n, int64_t lo, int64_t hi,
                      int32_t *val, int8_t *var)
{
    trim(&s, &n);
    int64_t v;
    if (parse_i64(s, n, lo, hi, &v) == 0) {
        *val = (int32_t)v;
        *var = -1;
        return 0;
    }
    int idx = find_var(r, s, n);
    if (idx < 0)
        return -1;
    *val = 0;
    *var = (int8_t)idx;
    return 0;
}

static int meta_push(struct sig_rule *r, const char *k, size_t kn, const char *v, size_t vn)
{
    struct sig_meta *m = realloc(r->meta, (r->nmeta + 1) * sizeof *m);
    if (m == NULL)
        return -2;
    r->meta = m;
    m[r->nmeta].key = dupn(k, kn);
    m[r->nmeta].value = dupn(v, vn);
    if (m[r->nmeta].key == NULL || m[r->nmeta].value == NULL) {
        free(m[r->nmeta].key);
        free(m[r->nmeta].value);
        return -2;
    }
    r->nmeta++;
    return 0;
}

/* Split "a, b, c" into trimmed parts (no quotes expected). */
#define MAX_PARTS 16
struct parts {
    const char *s[MAX_PARTS];
    size_t n[MAX_PARTS];
    int count;
};

static int split_commas(const char *s, size_t n, struct parts *p)
{
    p->count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ',') {
            if (p->count == MAX_PARTS)
                return -1;
            const char *a = s + start;
            size_t an = i - start;
            trim(&a, &an);
            p->s[p->count] = a;
            p->n[p->count] = an;
            p->count++;
            start = i + 1;
        }
    }
    return 0;
}

/* First word and rest of "word rest". */
static void word_split(const char *s, size_t n, const char **w, size_t *wn, const char **rest,
                       size_t *rn)
{
    trim(&s, &n);
    size_t i = 0;
    while (i < n && !isspace((unsigned char)s[i]))
        i++;
    *w = s;
    *wn = i;
    *rest = s + i;
    *rn = n - i;
    trim(rest, rn);
}

/* Keywords accepted and ignored (no effect on matching). */
static const char *const ignored_kw[] = { "rawbytes", "tag", NULL };

/* Keywords of the subset that take no value. */
static int is_modifier_only(const char *n, size_t len)
{
    return eqn(n, len, "nocase") || eqn(n, len, "fast_pattern") || eqn(n, len, "startswith") ||
           eqn(n, len, "endswith") || eqn(n, len, "rawbytes") || eqn(n, len, "noalert");
}

static int parse_threshold(const struct opt *o, int detection, struct sig_threshold *t,
                           struct sig_parse_err *e, const char **unsupported)
{
    struct parts p;
    if (split_commas(o->val, o->vlen, &p) < 0) {
        seterr(e, o->vcol, "%s: too many parts", detection ? "detection_filter" : "threshold");
        return -1;
    }
    memset(t, 0, sizeof *t);
    int have_type = detection, have_track = 0, have_count = 0, have_secs = 0;
    if (detection)
        t->type = TH_DETECTION;
    for (int i = 0; i < p.count; i++) {
        const char *w, *rest;
        size_t wn, rn;
        word_split(p.s[i], p.n[i], &w, &wn, &rest, &rn);
        int64_t v;
        if (!detection && eqn(w, wn, "type")) {
            if (eqn(rest, rn, "limit")) t->type = TH_LIMIT;
            else if (eqn(rest, rn, "threshold")) t->type = TH_THRESHOLD;
            else if (eqn(rest, rn, "both")) t->type = TH_BOTH;
            else if (eqn(rest, rn, "backoff")) { *unsupported = "threshold type backoff"; return 1; }
            else { seterr(e, o->vcol, "threshold: unknown type '%.*s'", (int)rn, rest); return -1; }
            have_type = 1;
        } else if (eqn(w, wn, "track")) {
            if (eqn(rest, rn, "by_src")) t->track = TRACK_SRC;
            else if (eqn(rest, rn, "by_dst")) t->track = TRACK_DST;
            else if (eqn(rest, rn, "by_rule")) t->track = TRACK_RULE;
            else if (eqn(rest, rn, "by_flow")) t->track = TRACK_FLOW;
            else if (eqn(rest, rn, "by_both")) { *unsupported = "track by_both"; return 1; }
            else { seterr(e, o->vcol, "unknown track '%.*s'", (int)rn, rest); return -1; }
            have_track = 1;
        } else if (eqn(w, wn, "count")) {
            if (parse_i64(rest, rn, 1, 100000000, &v) < 0) {
                seterr(e, o->vcol, "bad count '%.*s'", (int)rn, rest);
                return -1;
            }
            t->count = (uint32_t)v;
            have_count = 1;
        } else if (eqn(w, wn, "seconds")) {
            if (parse_i64(rest, rn, 1, 86400 * 365, &v) < 0) {
                seterr(e, o->vcol, "bad seconds '%.*s'", (int)rn, rest);
                return -1;
            }
            t->seconds = (uint32_t)v;
            have_secs = 1;
        } else if (detection && eqn(w, wn, "unique_on")) {
            if (!eqn(rest, rn, "dst_port")) {
                *unsupported = "detection_filter unique_on";
                return 1;
            }
            t->unique_dport = 1;
        } else {
            seterr(e, o->vcol, "unknown %s part '%.*s'", detection ? "detection_filter" : "threshold",
                   (int)wn, w);
            return -1;
        }
    }
    if (!have_type || !have_track || !have_count || !have_secs) {
        seterr(e, o->vcol, "%s needs type, track, count and seconds",
               detection ? "detection_filter" : "threshold");
        return -1;
    }
    return 0;
}

static int parse_flags(const struct opt *o, struct sig_rule *r, struct sig_parse_err *e)
{
    const char *s = o->val;
    size_t n = o->vlen;
    trim(&s, &n);
    const char *comma = memchr(s, ',', n);
    size_t main = comma ? (size_t)(comma - s) : n;
    uint8_t want = 0, ign = 0, mode = 0;
    int saw_zero = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *p = pass == 0 ? s : comma + 1;
        size_t len = pass == 0 ? main : (comma ? n - main - 1 : 0);
        if (pass == 1 && comma == NULL)
            break;
        uint8_t *dst = pass == 0 ? &want : &ign;
        for (size_t i = 0; i < len; i++) {
            char c = p[i];
            uint8_t bit = 0;
            switch (c) {
            case 'F': bit = 0x01; break;
            case 'S': bit = 0x02; break;
            case 'R': bit = 0x04; break;
            case 'P': bit = 0x08; break;
            case 'A': bit = 0x10; break;
            case 'U': bit = 0x20; break;
            case 'E': case '2': bit = 0x40; break;
            case 'C': case '1': bit = 0x80; break;
            case '0': if (pass == 0) { saw_zero = 1; continue; } break;
            case ' ': case '\t': continue;
            case '+': case '*': case '!':
                if (pass == 0 && mode == 0) { mode = (uint8_t)c; continue; }
                break;
            default: break;
            }
            if (bit == 0) {
                seterr(e, o->vcol + (int)(p - s) + (int)i, "flags: bad flag '%c'", c);
                return -1;
            }
            *dst |= bit;
        }
    }
    if (want == 0 && !saw_zero) {
        seterr(e, o->vcol, "flags: no flag given");
        return -1;
    }
    r->has_flags = 1;
    r->flags_want = want;
    r->flags_ignore = ign;
    r->flags_mode = mode;
    return 0;
}

static int parse_flow(const struct opt *o, struct sig_rule *r, struct sig_parse_err *e,
                      const char **unsupported)
{
    struct parts p;
    if (split_commas(o->val, o->vlen, &p) < 0) {
        seterr(e, o->vcol, "flow: too many parts");
        return -1;
    }
    for (int i = 0; i < p.count; i++) {
        const char *w = p.s[i];
        size_t n = p.n[i];
        if (eqn(w, n, "established")) r->flow |= FL_ESTABLISHED;
        else if (eqn(w, n, "not_established")) r->flow |= FL_NOT_ESTABLISHED;
        else if (eqn(w, n, "to_server") || eqn(w, n, "from_client")) r->flow |= FL_TO_SERVER;
        else if (eqn(w, n, "to_client") || eqn(w, n, "from_server")) r->flow |= FL_TO_CLIENT;
        else if (eqn(w, n, "stateless")) r->flow |= FL_STATELESS;
        else if (eqn(w, n, "only_stream")) r->flow |= FL_ONLY_STREAM;
        else if (eqn(w, n, "no_stream")) r->flow |= FL_NO_STREAM;
        else if (eqn(w, n, "only_frag") || eqn(w, n, "no_frag") || eqn(w, n, "established_only")) {
            *unsupported = "flow option";
            return 1;
        } else {
            seterr(e, o->vcol, "flow: unknown option '%.*s'", (int)n, w);
            return -1;
        }
    }
    if ((r->flow & FL_TO_SERVER) && (r->flow & FL_TO_CLIENT)) {
        seterr(e, o->vcol, "flow: to_server and to_client together");
        return -1;
    }
    if ((r->flow & FL_ONLY_STREAM) && (r->flow & FL_NO_STREAM)) {
        seterr(e, o->vcol, "flow: only_stream and no_stream together");
        return -1;
    }
    return 0;
}

static int parse_flowbits(const struct opt *o, struct sig_rule *r, struct sig_parse_err *e)
{
    const char *s = o->val;
    size_t n = o->vlen;
    trim(&s, &n);
    const char *comma = memchr(s, ',', n);
    const char *cmd = s;
    size_t cn = comma ? (size_t)(comma - s) : n;
    trim(&cmd, &cn);
    struct sig_flowbit fb = { 0 };
    if (eqn(cmd, cn, "set")) fb.cmd = FB_SET;
    else if (eqn(cmd, cn, "isset")) fb.cmd = FB_ISSET;
    else if (eqn(cmd, cn, "isnotset")) fb.cmd = FB_ISNOTSET;
    else if (eqn(cmd, cn, "unset")) fb.cmd = FB_UNSET;
    else if (eqn(cmd, cn, "toggle")) fb.cmd = FB_TOGGLE;
    else if (eqn(cmd, cn, "noalert")) fb.cmd = FB_NOALERT;
    else {
        seterr(e, o->vcol, "flowbits: unknown command '%.*s'", (int)cn, cmd);
        return -1;
    }
    if (fb.cmd == FB_NOALERT) {
        if (comma) {
            seterr(e, o->vcol, "flowbits:noalert takes no name");
            return -1;
        }
        r->noalert = 1;
        return 0;
    }
    if (!comma) {
        seterr(e, o->vcol, "flowbits:%.*s needs a name", (int)cn, cmd);
        return -1;
    }
    const char *names = comma + 1;
    size_t nn = n - cn - 1 - (size_t)(cmd - s);
    nn = (size_t)(s + n - names);
    trim(&names, &nn);
    if (nn == 0) {
        seterr(e, o->vcol, "flowbits: empty name");
        return -1;
    }
    /* a|b (any) for isset/isnotset, a&b (all) accepted too */
    size_t start = 0;
    for (size_t i = 0; i <= nn; i++) {
        if (i == nn || names[i] == '|' || names[i] == '&') {
            const char *nm = names + start;
            size_t len = i - start;
            trim(&nm, &len);
            if (len == 0) {
                seterr(e, o->vcol, "flowbits: empty name");
                goto fail;
            }
            for (size_t k = 0; k < len; k++) {
                unsigned char c = (unsigned char)nm[k];
                if (!(isalnum(c) || c == '_' || c == '.' || c == '-')) {
                    seterr(e, o->vcol, "flowbits: bad character in name");
                    goto fail;
                }
            }
            char **nms = realloc(fb.names, (fb.n + 1) * sizeof *nms);
            if (nms == NULL)
                goto nomem;
            fb.names = nms;
            if ((fb.names[fb.n] = dupn(nm, len)) == NULL)
                goto nomem;
            fb.n++;
            start = i + 1;
        }
    }
    if (fb.n > 1 && fb.cmd != FB_ISSET && fb.cmd != FB_ISNOTSET) {
        seterr(e, o->vcol, "flowbits: several names only with isset/isnotset");
        goto fail;
    }
    struct sig_flowbit *a = realloc(r->flowbits, (r->nflowbits + 1) * sizeof *a);
    if (a == NULL)
        goto nomem;
    r->flowbits = a;
    a[r->nflowbits++] = fb;
    return 0;
nomem:
    seterr(e, o->vcol, "out of memory");
fail:
    for (size_t i = 0; i < fb.n; i++)
        free(fb.names[i]);
    free(fb.names);
    return -1;
}

static int endian_base(const char *w, size_t n, struct sig_sm *m)
{
    if (eqn(w, n, "big")) m->endian = BY_BIG;
    else if (eqn(w, n, "little")) m->endian = BY_LITTLE;
    else if (eqn(w, n, "string")) { if (m->base == 0) m->base = BY_DEC; }
    else if (eqn(w, n, "dec")) m->base = BY_DEC;
    else if (eqn(w, n, "hex")) m->base = BY_HEX;
    else if (eqn(w, n, "oct")) m->base = BY_OCT;
    else if (eqn(w, n, "relative")) m->relative = 1;
    else return 0;
    return 1;
}

/* byte_test / byte_jump / byte_extract */
static int parse_byte_op(const struct opt *o, struct sig_rule *r, int type,
                         struct sig_parse_err *e, const char **unsupported)
{
    const char *kw = type == SM_BYTE_TEST ? "byte_test" : type == SM_BYTE_JUMP ? "byte_jump"
                                                                               : "byte_extract";
    struct parts p;
    if (split_commas(o->val, o->vlen, &p) < 0) {
        seterr(e, o->vcol, "%s: too many parts", kw);
        return -1;
    }
    int need = type == SM_BYTE_TEST ? 4 : type == SM_BYTE_JUMP ? 2 : 3;
    if (p.count < need) {
        seterr(e, o->vcol, "%s: needs at least %d parts", kw, need);
        return -1;
    }
    struct sig_sm *m = sm_push(r);
    if (m == NULL) {
        seterr(e, o->vcol, "out of memory");
        return -1;
    }
    m->type = (uint8_t)type;
    int64_t v;
    if (parse_i64(p.s[0], p.n[0], 1, 10, &v) < 0) {
        seterr(e, o->vcol, "%s: bad byte count '%.*s'", kw, (int)p.n[0], p.s[0]);
        return -1;
    }
    m->nbytes = (uint32_t)v;
    int idx = 1;
    if (type == SM_BYTE_TEST) {
        const char *op = p.s[1];
        size_t on = p.n[1];
        if (on > 0 && op[0] == '!') {
            m->op_neg = 1;
            op++;
            on--;
        }
        if (eqn(op, on, "<")) m->op = '<';
        else if (eqn(op, on, ">")) m->op = '>';
        else if (eqn(op, on, "=")) m->op = '=';
        else if (eqn(op, on, "&")) m->op = '&';
        else if (eqn(op, on, "^")) m->op = '^';
        else if (eqn(op, on, "<=")) m->op = 'l';
        else if (eqn(op, on, ">=")) m->op = 'g';
        else if (on == 0 && m->op_neg) { m->op = '='; }
        else {
            seterr(e, o->vcol, "byte_test: bad operator '%.*s'", (int)p.n[1], p.s[1]);
            return -1;
        }
        int32_t val32;
        int8_t var;
        if (parse_i64(p.s[2], p.n[2], 0, INT64_MAX, &m->value) == 0) {
            m->value_var = -1;
        } else if (int_or_var(r, p.s[2], p.n[2], 0, 0, &val32, &var) == 0) {
            m->value_var = var;
        } else {
            seterr(e, o->vcol, "byte_test: bad value '%.*s'", (int)p.n[2], p.s[2]);
            return -1;
        }
        idx = 3;
    }
    if (int_or_var(r, p.s[idx], p.n[idx], -65535, 65535, &m->offset, &m->offset_var) < 0) {
        seterr(e, o->vcol, "%s: bad offset '%.*s'", kw, (int)p.n[idx], p.s[idx]);
        return -1;
    }
    idx++;
    if (type == SM_BYTE_EXTRACT) {
        const char *nm = p.s[idx];
        size_t nn = p.n[idx];
        if (nn == 0 || nn > 32 || !(isalpha((unsigned char)nm[0]) || nm[0] == '_')) {
            seterr(e, o->vcol, "byte_extract: bad variable name");
            return -1;
        }
        int existing = find_var(r, nm, nn);
        if (existing >= 0) {
            m->var = (int8_t)existing;
        } else {
            if (r->nvars == SIG_MAX_VARS) {
                seterr(e, o->vcol, "byte_extract: more than %d variables", SIG_MAX_VARS);
                return -1;
            }
            if ((r->var_names[r->nvars] = dupn(nm, nn)) == NULL) {
                seterr(e, o->vcol, "out of memory");
                return -1;
            }
            m->var = (int8_t)r->nvars++;
        }
        idx++;
    }
    for (; idx < p.count; idx++) {
        const char *w, *rest;
        size_t wn, rn;
        word_split(p.s[idx], p.n[idx], &w, &wn, &rest, &rn);
        if (rn == 0 && endian_base(w, wn, m))
            continue;
        if (eqn(w, wn, "align") && type != SM_BYTE_TEST) {
            m->align = 4;
            if (rn && (parse_i64(rest, rn, 1, 8, &v) < 0 || (v != 2 && v != 4))) {
                seterr(e, o->vcol, "%s: bad align", kw);
                return -1;
            }
            if (rn)
                m->align = (uint8_t)v;
        } else if (eqn(w, wn, "from_beginning") && type == SM_BYTE_JUMP && rn == 0) {
            m->from_beginning = 1;
        } else if (eqn(w, wn, "from_end") && type == SM_BYTE_JUMP && rn == 0) {
            m->from_end = 1;
        } else if (eqn(w, wn, "multiplier") && type != SM_BYTE_TEST) {
            if (parse_i64(rest, rn, 1, 65535, &v) < 0) {
                seterr(e, o->vcol, "%s: bad multiplier", kw);
                return -1;
            }
            m->multiplier = (uint32_t)v;
        } else if (eqn(w, wn, "post_offset") && type == SM_BYTE_JUMP) {
            if (parse_i64(rest, rn, -65535, 65535, &v) < 0) {
                seterr(e, o->vcol, "byte_jump: bad post_offset");
                return -1;
            }
            m->post_offset = (int32_t)v;
        } else if (eqn(w, wn, "bitmask")) {
            if (parse_i64(rest, rn, 1, 0xffffffffLL, &v) < 0) {
                seterr(e, o->vcol, "%s: bad bitmask", kw);
                return -1;
            }
            m->bitmask = (uint32_t)v;
        } else if (eqn(w, wn, "dce")) {
            *unsupported = "dce";
            return 1;
        } else {
            seterr(e, o->vcol, "%s: unknown option '%.*s'", kw, (int)p.n[idx], p.s[idx]);
            return -1;
        }
    }
    if (m->base == 0 && m->nbytes > 8) {
        seterr(e, o->vcol, "%s: more than 8 bytes needs 'string'", kw);
        return -1;
    }
    if (m->base == 0 && m->nbytes != 1 && m->nbytes != 2 && m->nbytes != 3 && m->nbytes != 4 &&
        m->nbytes != 8) {
        seterr(e, o->vcol, "%s: binary reads take 1, 2, 3, 4 or 8 bytes", kw);
        return -1;
    }
    return 0;
}

static int parse_pcre(const struct opt *o, int neg, struct sig_rule *r, struct sig_parse_err *e,
                      const char **unsupported)
{
    char *s;
    size_t n;
    int q = unquote(o->val, o->vlen, &s, &n);
    if (q == -2) {
        seterr(e, o->vcol, "out of memory");
        return -1;
    }
    /* a pcre value keeps its backslashes: re-read it raw */
    if (q == 0)
        free(s);
    const char *v = o->val;
    size_t vn = o->vlen;
    trim(&v, &vn);
    if (q < 0 || vn < 2 || v[0] != '"' || v[vn - 1] != '"') {
        seterr(e, o->vcol, "pcre: expected \"/regex/flags\"");
        return -1;
    }
    v++;
    vn -= 2;
    if (vn == 0 || v[0] != '/') {
        seterr(e, o->vcol + 1, "pcre: the expression must start with '/'");
        return -1;
    }
    size_t last = vn;
    while (last > 1 && v[last - 1] != '/')
        last--;
    if (last <= 1) {
        seterr(e, o->vcol + 1, "pcre: no closing '/'");
        return -1;
    }
    struct sig_sm *m = sm_push(r);
    if (m == NULL) {
        seterr(e, o->vcol, "out of memory");
        return -1;
    }
    m->type = SM_PCRE;
    m->neg = (uint8_t)neg;
    /* unescape \" and \; only (PCRE needs the other backslashes) */
    char *src = malloc(last);
    if (src == NULL) {
        seterr(e, o->vcol, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 1; i < last - 1; i++) {
        if (v[i] == '\\' && i + 1 < last - 1 && (v[i + 1] == '"' || v[i + 1] == ';'))
            i++;
        src[k++] = v[i];
    }
    src[k] = '\0';
    m->re_src = src;
    for (size_t i = last; i < vn; i++) {
        switch (v[i]) {
        case 'i': m->re_opts |= 0x00000008u; break; /* PCRE2_CASELESS */
        case 's': m->re_opts |= 0x00000020u; break; /* PCRE2_DOTALL */
        case 'm': m->re_opts |= 0x00000400u; break; /* PCRE2_MULTILINE */
        case 'x': m->re_opts |= 0x00000080u; break; /* PCRE2_EXTENDED */
        case 'A': m->re_opts |= 0x80000000u; break; /* PCRE2_ANCHORED */
        case 'E': m->re_opts |= 0x00000010u; break; /* PCRE2_DOLLAR_ENDONLY */
        case 'G': m->re_opts |= 0x00040000u; break; /* PCRE2_UNGREEDY */
        case 'R': m->relative = 1; break;
        case 'U': m->re_uri = 1; break;
        case 'O': case 'B': break;                  /* match limits, raw bytes */
        default: {
            static char kwbuf[16];
            snprintf(kwbuf, sizeof kwbuf, "pcre/%c", v[i]);
            if (strchr("PHDMCKSYVWZQIrTu", v[i])) {
                *unsupported = kwbuf;
                return 1;
            }
            seterr(e, o->vcol + 1 + (int)i, "pcre: unknown flag '%c'", v[i]);
            return -1;
        }
        }
    }
    if (m->re_uri && m->relative) {
        *unsupported = "pcre/UR";
        return 1;
    }
    return 0;
}

static int parse_content(const struct opt *o, struct sig_rule *r, struct sig_parse_err *e,
                         int startswith_kw)
{
    const char *v = o->val;
    size_t vn = o->vlen;
    trim(&v, &vn);
    int neg = 0;
    if (vn > 0 && v[0] == '!') {
        neg = 1;
        v++;
        vn--;
        trim(&v, &vn);
    }
    char *s;
    size_t sn;
    int q = unquote(v, vn, &s, &sn);
    if (q == -2) {
        seterr(e, o->vcol, "out of memory");
        return -1;
    }
    if (q < 0) {
        seterr(e, o->vcol, "content: expected a quoted string");
        return -1;
    }
    struct sig_sm *m = sm_push(r);
    if (m == NULL) {
        free(s);
        seterr(e, o->vcol, "out of memory");
        return -1;
    }
    m->type = SM_CONTENT;
    m->neg = (uint8_t)neg;
    char why[128];
    int rc = content_bytes(s, sn, &m->pat, &m->len, why, sizeof why);
    free(s);
    if (rc < 0) {
        seterr(e, o->vcol, "content: %s", rc == -2 ? "out of memory" : why);
        return -1;
    }
    (void)startswith_kw;
    return 0;
}

/* content modifiers: nocase depth offset distance within fast_pattern startswith endswith */
static int parse_modifier(const struct opt *o, struct sig_rule *r, struct sig_parse_err *e)
{
    struct sig_sm *m = last_content(r);
    if (m == NULL) {
        seterr(e, o->col, "%.*s without a preceding content", (int)o->nlen, o->name);
        return -1;
    }
    if (eqn(o->name, o->nlen, "nocase")) { m->nocase = 1; return 0; }
    if (eqn(o->name, o->nlen, "rawbytes")) return 0;
    if (eqn(o->name, o->nlen, "fast_pattern")) {
        if (o->val) {
            const char *v = o->val;
            size_t vn = o->vlen;
            trim(&v, &vn);
            if (!eqn(v, vn, "only")) {
                /* fast_pattern:offset,length (chop): the whole pattern serves */
                int64_t a, b;
                const char *c = memchr(v, ',', vn);
                if (c == NULL || parse_i64(v, (size_t)(c - v), 0, 65535, &a) < 0 ||
                    parse_i64(c + 1, vn - (size_t)(c - v) - 1, 1, 65535, &b) < 0) {
                    seterr(e, o->vcol, "fast_pattern: expected 'only' or offset,length");
                    return -1;
                }
            }
        }
        if (m->neg) {
            seterr(e, o->col, "fast_pattern on a negated content");
            return -1;
        }
        for (size_t i = 0; i < r->nsm; i++)
            if (r->sm[i].fast_pattern) {
                seterr(e, o->col, "fast_pattern set twice");
                return -1;
            }
        m->fast_pattern = 1;
        return 0;
    }
    if (eqn(o->name, o->nlen, "startswith")) {
        if (m->pos[POS_OFFSET] != SIG_UNSET || m->pos[POS_DEPTH] != SIG_UNSET ||
            m->pos[POS_DISTANCE] != SIG_UNSET || m->pos[POS_WITHIN] != SIG_UNSET) {
            seterr(e, o->col, "startswith with offset/depth/distance/within");
            return -1;
        }
        m->startswith = 1;
        return 0;
    }
    if (eqn(o->name, o->nlen, "endswith")) { m->endswith = 1; return 0; }
    int which;
    int64_t lo = 0, hi = 65535;
    if (eqn(o->name, o->nlen, "offset")) which = POS_OFFSET;
    else if (eqn(o->name, o->nlen, "depth")) { which = POS_DEPTH; lo = 1; }
    else if (eqn(o->name, o->nlen, "distance")) { which = POS_DISTANCE; lo = -65535; }
    else { which = POS_WITHIN; lo = 1; }
    if (o->val == NULL) {
        seterr(e, o->col, "%.*s needs a value", (int)o->nlen, o->name);
        return -1;
    }
    if (m->startswith) {
        seterr(e, o->col, "%.*s with startswith", (int)o->nlen, o->name);
        return -1;
    }
    if (m->pos[which] != SIG_UNSET || m->pos_var[which] >= 0) {
        seterr(e, o->col, "%.*s set twice", (int)o->nlen, o->name);
        return -1;
    }
    int abs_ = which == POS_OFFSET || which == POS_DEPTH;
    int other0 = abs_ ? POS_DISTANCE : POS_OFFSET, other1 = abs_ ? POS_WITHIN : POS_DEPTH;
    if (m->pos[other0] != SIG_UNSET || m->pos[other1] != SIG_UNSET || m->pos_var[other0] >= 0 ||
        m->pos_var[other1] >= 0) {
        seterr(e, o->col, "%.*s mixes absolute (offset/depth) and relative (distance/within)",
               (int)o->nlen, o->name);
        return -1;
    }
    if (int_or_var(r, o->val, o->vlen, lo, hi, &m->pos[which], &m->pos_var[which]) < 0) {
        seterr(e, o->vcol, "%.*s: bad value '%.*s'", (int)o->nlen, o->name, (int)o->vlen, o->val);
        return -1;
    }
    if (which == POS_DEPTH && m->pos_var[which] < 0 && (uint32_t)m->pos[which] < m->len) {
        seterr(e, o->vcol, "depth %d is smaller than the content (%u bytes)", m->pos[which], m->len);
        return -1;
    }
    if (which == POS_WITHIN && m->pos_var[which] < 0 && (uint32_t)m->pos[which] < m->len) {
        seterr(e, o->vcol, "within %d is smaller than the content (%u bytes)", m->pos[which], m->len);
        return -1;
    }
    if (which == POS_DISTANCE || which == POS_WITHIN)
        m->relative = 1;
    return 0;
}

static int parse_isdataat(const struct opt *o, struct sig_rule *r, struct sig_parse_err *e)
{
    const char *v = o->val;
    size_t vn = o->vlen;
    trim(&v, &vn);
    struct sig_sm *m = sm_push(r);
    if (m == NULL) {
        seterr(e, o->vcol, "out of memory");
        return -1;
    }
    m->type = SM_ISDATAAT;
    if (vn > 0 && v[0] == '!') {
        m->neg = 1;
        v++;
        vn--;
    }
    struct parts p;
    if (split_commas(v, vn, &p) < 0 || p.count < 1) {
        seterr(e, o->vcol, "isdataat: bad value");
        return -1;
    }
    if (int_or_var(r, p.s[0], p.n[0], 0, 65535, &m->offset, &m->offset_var) < 0) {
        seterr(e, o->vcol, "isdataat: bad value '%.*s'", (int)p.n[0], p.s[0]);
        return -1;
    }
    for (int i = 1; i < p.count; i++) {
        if (eqn(p.s[i], p.n[i], "relative")) m->relative = 1;
        else if (eqn(p.s[i], p.n[i], "rawbytes")) continue;
        else {
            seterr(e, o->vcol, "isdataat: unknown option '%.*s'", (int)p.n[i], p.s[i]);
            return -1;
        }
    }
    return 0;
}

static int parse_u32(const struct opt *o, uint32_t *out, uint32_t lo, struct sig_parse_err *e)
{
    int64_t v;
    if (o->val == NULL || parse_i64(o->val, o->vlen, lo, 0xffffffffLL, &v) < 0) {
        seterr(e, o->vcol ? o->vcol : o->col, "%.*s: expected an integer", (int)o->nlen, o->name);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_numkw(const struct opt *o, struct sig_num *out, int64_t max,
                       struct sig_parse_err *e)
{
    if (o->val == NULL || parse_num(o->val, o->vlen, max, out) < 0) {
        seterr(e, o->vcol ? o->vcol : o->col, "%.*s: bad number or range", (int)o->nlen, o->name);
        return -1;
    }
    return 0;
}

static int parse_metadata(const struct opt *o, struct sig_rule *r, struct sig_parse_err *e)
{
    struct parts p;
    /* metadata can have many entries: walk commas without the part cap */
    const char *s = o->val;
    size_t n = o->vlen, start = 0;
    (void)p;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ',') {
            const char *w, *rest;
            size_t wn, rn;
            word_split(s + start, i - start, &w, &wn, &rest, &rn);
            start = i + 1;
            if (wn == 0)
                continue;
            if (meta_push(r, w, wn, rest, rn) < 0) {
                seterr(e, o->vcol, "out of memory");
                return -1;
            }
        }
    }
    return 0;
}

/* The options the subset knows, in one table; everything else is skipped. */
static int known_option(const char *n, size_t len)
{
    static const char *const kw[] = {
        "msg", "sid", "rev", "gid", "classtype", "priority", "reference", "metadata", "content",
        "nocase", "depth", "offset", "distance", "within", "fast_pattern", "pcre", "flow",
        "flags", "dsize", "ttl", "itype", "icode", "ip_proto", "threshold", "detection_filter",
        "flowbits", "isdataat", "byte_test", "byte_jump", "byte_extract", "startswith",
        "endswith", "bsize", "icmp_id", "icmp_seq", "target", "rawbytes", "noalert", NULL,
    };
    for (int i = 0; kw[i]; i++)
        if (eqn(n, len, kw[i]))
            return 1;
    return 0;
}

/* Split the option body into struct opt; -1 on a syntax error. */
static int next_option(const char *text, size_t *pos, size_t end, struct opt *o,
                       struct sig_parse_err *e)
{
    size_t i = *pos;
    while (i < end && isspace((unsigned char)text[i]))
        i++;
    if (i >= end) {
        *pos = i;
        return 0;
    }
    size_t ns = i;
    while (i < end && text[i] != ':' && text[i] != ';')
        i++;
    o->name = text + ns;
    o->nlen = i - ns;
    o->col = (int)ns + 1;
    size_t nl = o->nlen;
    while (nl > 0 && isspace((unsigned char)o->name[nl - 1]))
        nl--;
    o->nlen = nl;
    for (size_t k = 0; k < nl; k++) {
        unsigned char c = (unsigned char)o->name[k];
        if (!(isalnum(c) || c == '_' || c == '.' || c == '-')) {
            seterr(e, o->col + (int)k, "bad character '%c' in option name", c);
            return -1;
        }
    }
    if (nl == 0) {
        seterr(e, o->col, "empty option");
        return -1;
    }
    if (i >= end) {
        seterr(e, (int)i + 1, "option '%.*s' is not terminated by ';'", (int)nl, o->name);
        return -1;
    }
    o->val = NULL;
    o->vlen = 0;
    o->vcol = 0;
    if (text[i] == ':') {
        i++;
        size_t vs = i;
        int inq = 0;
        while (i < end) {
            char c = text[i];
            if (c == '\\' && i + 1 < end) {
                i += 2;
                continue;
            }
            if (c == '"')
                inq = !inq;
            else if (c == ';' && !inq)
                break;
            i++;
        }
        if (i >= end) {
            seterr(e, inq ? (int)vs + 1 : (int)end + 1, inq ? "unterminated string" :
                   "option '%.*s' is not terminated by ';'", (int)nl, o->name);
            return -1;
        }
        o->val = text + vs;
        o->vlen = i - vs;
        o->vcol = (int)vs + 1;
        while (o->vlen > 0 && isspace((unsigned char)*o->val)) {
            o->val++;
            o->vlen--;
            o->vcol++;
        }
    }
    *pos = i + 1;   /* past ';' */
    return 1;
}

/* Header token: whitespace separated, brackets kept together. */
static int next_token(const char *t, size_t *pos, size_t end, const char **tok, size_t *tn)
{
    size_t i = *pos;
    while (i < end && isspace((unsigned char)t[i]))
        i++;
    if (i >= end || t[i] == '(')
        return 0;
    size_t s = i;
    int depth = 0;
    while (i < end) {
        char c = t[i];
        if (c == '[')
            depth++;
        else if (c == ']')
            depth--;
        else if (depth <= 0 && (isspace((unsigned char)c) || c == '('))
            break;
        i++;
    }
    *tok = t + s;
    *tn = i - s;
    *pos = i;
    return 1;
}

int sig_parse_rule(const char *text, const struct sig_vars *vars, struct sig_rule *r,
                   struct sig_parse_err *e)
{
    memset(r, 0, sizeof *r);
    memset(e, 0, sizeof *e);
    r->fast = -1;
    r->ip_proto = -1;
    size_t end = strlen(text);
    size_t pos = 0;
    const char *tok[7];
    size_t tn[7];
    int tc[7];
    int ntok = 0;
    while (ntok < 7) {
        size_t before = pos;
        while (before < end && isspace((unsigned char)text[before]))
            before++;
        if (!next_token(text, &pos, end, &tok[ntok], &tn[ntok]))
            break;
        tc[ntok] = (int)(tok[ntok] - text) + 1;
        ntok++;
    }
    if (ntok < 7) {
        seterr(e, (int)pos + 1, "rule header needs 7 fields: action proto src sport dir dst dport");
        goto fail;
    }
    char why[SIG_ERR_LEN];
    /* action */
    if (eqn(tok[0], tn[0], "alert")) r->action = SIG_ALERT;
    else if (eqn(tok[0], tn[0], "pass")) r->action = SIG_PASS;
    else if (eqn(tok[0], tn[0], "drop")) r->action = SIG_DROP;
    else if (eqn(tok[0], tn[0], "reject") || eqn(tok[0], tn[0], "rejectsrc") ||
             eqn(tok[0], tn[0], "rejectdst") || eqn(tok[0], tn[0], "rejectboth") ||
             eqn(tok[0], tn[0], "sdrop") || eqn(tok[0], tn[0], "log")) {
        snprintf(e->keyword, sizeof e->keyword, "action %.*s", (int)tn[0], tok[0]);
    } else {
        seterr(e, tc[0], "unknown action '%.*s'", (int)(tn[0] > 40 ? 40 : tn[0]), tok[0]);
        goto fail;
    }
    /* protocol */
    if (eqn_ci(tok[1], tn[1], "ip") || eqn_ci(tok[1], tn[1], "pkthdr")) r->proto = SIG_P_IP;
    else if (eqn_ci(tok[1], tn[1], "tcp")) r->proto = SIG_P_TCP;
    else if (eqn_ci(tok[1], tn[1], "tcp-pkt")) { r->proto = SIG_P_TCP; r->tcp_mode = SIG_TCP_PKT; }
    else if (eqn_ci(tok[1], tn[1], "tcp-stream")) { r->proto = SIG_P_TCP; r->tcp_mode = SIG_TCP_STREAM; }
    else if (eqn_ci(tok[1], tn[1], "udp")) r->proto = SIG_P_UDP;
    else if (eqn_ci(tok[1], tn[1], "icmp")) r->proto = SIG_P_ICMP;
    else {
        static const char *const app[] = { "http", "http1", "http2", "dns", "tls", "ssh", "ftp",
            "ftp-data", "smtp", "smb", "dcerpc", "nfs", "dhcp", "krb5", "snmp", "sip", "rdp",
            "mqtt", "modbus", "dnp3", "enip", "ike", "ntp", "tftp", "imap", "pop3", "quic",
            "rfb", "bittorrent-dht", "pgsql", "telnet", "websocket", "ldap", "sctp", "ipv6",
            "ipv4", "ip4", "ip6", "icmpv6", "icmpv4", "frame", "file", NULL };
        for (int i = 0; app[i]; i++)
            if (eqn_ci(tok[1], tn[1], app[i])) {
                snprintf(e->keyword, sizeof e->keyword, "protocol %s", app[i]);
                break;
            }
        if (e->keyword[0] == '\0') {
            seterr(e, tc[1], "unknown protocol '%.*s'", (int)(tn[1] > 40 ? 40 : tn[1]), tok[1]);
            goto fail;
        }
    }
    if (sig_parse_addr(tok[2], tn[2], vars, &r->src, why, sizeof why, 0) < 0) {
        seterr(e, tc[2], "source address: %s", why);
        goto fail;
    }
    if (sig_parse_ports(tok[3], tn[3], vars, &r->sport, why, sizeof why, 0) < 0) {
        seterr(e, tc[3], "source port: %s", why);
        goto fail;
    }
    if (eqn(tok[4], tn[4], "->")) r->bidir = 0;
    else if (eqn(tok[4], tn[4], "<>")) r->bidir = 1;
    else if (eqn(tok[4], tn[4], "=>")) { if (!e->keyword[0]) snprintf(e->keyword, sizeof e->keyword, "direction =>"); }
    else {
        seterr(e, tc[4], "expected '->' or '<>', got '%.*s'", (int)(tn[4] > 20 ? 20 : tn[4]), tok[4]);
        goto fail;
    }
    if (sig_parse_addr(tok[5], tn[5], vars, &r->dst, why, sizeof why, 0) < 0) {
        seterr(e, tc[5], "destination address: %s", why);
        goto fail;
    }
    if (sig_parse_ports(tok[6], tn[6], vars, &r->dport, why, sizeof why, 0) < 0) {
        seterr(e, tc[6], "destination port: %s", why);
        goto fail;
    }
    while (pos < end && isspace((unsigned char)text[pos]))
        pos++;
    if (pos >= end || text[pos] != '(') {
        seterr(e, (int)pos + 1, "expected '(' after the rule header");
        goto fail;
    }
    size_t close = end;
    while (close > pos && isspace((unsigned char)text[close - 1]))
        close--;
    if (close <= pos + 1 || text[close - 1] != ')') {
        seterr(e, (int)close + 1, "expected ')' at the end of the rule");
        goto fail;
    }
    size_t body_end = close - 1;
    pos++;
    const char *unsupported = NULL;
    int have_sid = 0;
    struct opt o;
    int rc;
    while ((rc = next_option(text, &pos, body_end, &o, e)) == 1) {
        const char *n = o.name;
        size_t nl = o.nlen;
        if (!known_option(n, nl)) {
            int ign = 0;
            for (int i = 0; ignored_kw[i]; i++)
                if (eqn(n, nl, ignored_kw[i]))
                    ign = 1;
            if (!ign && e->keyword[0] == '\0')
                snprintf(e->keyword, sizeof e->keyword, "%.*s", (int)(nl > 60 ? 60 : nl), n);
            continue;
        }
        if (o.val == NULL && !is_modifier_only(n, nl)) {
            seterr(e, o.col, "option '%.*s' needs a value", (int)nl, n);
            goto fail;
        }
        if (o.val != NULL && is_modifier_only(n, nl) && !eqn(n, nl, "fast_pattern")) {
            seterr(e, o.vcol, "option '%.*s' takes no value", (int)nl, n);
            goto fail;
        }
        int64_t v;
        int sub = 0;
        unsupported = NULL;
        if (eqn(n, nl, "msg")) {
            char *m;
            if (unquote(o.val, o.vlen, &m, NULL) < 0) {
                seterr(e, o.vcol, "msg: expected a quoted string");
                goto fail;
            }
            free(r->msg);
            r->msg = m;
        } else if (eqn(n, nl, "sid")) {
            if (parse_u32(&o, &r->sid, 1, e) < 0)
                goto fail;
            have_sid = 1;
        } else if (eqn(n, nl, "rev")) {
            if (parse_u32(&o, &r->rev, 0, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "gid")) {
            if (parse_u32(&o, &r->gid, 0, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "priority")) {
            if (parse_i64(o.val, o.vlen, 1, 255, &v) < 0) {
                seterr(e, o.vcol, "priority: expected 1-255");
                goto fail;
            }
            r->priority = (uint32_t)v;
        } else if (eqn(n, nl, "classtype")) {
            const char *c = o.val;
            size_t cn = o.vlen;
            trim(&c, &cn);
            if (cn == 0) {
                seterr(e, o.vcol, "classtype: empty");
                goto fail;
            }
            free(r->classtype);
            if ((r->classtype = dupn(c, cn)) == NULL)
                goto nomem;
        } else if (eqn(n, nl, "reference")) {
            const char *c = o.val;
            size_t cn = o.vlen;
            trim(&c, &cn);
            if (meta_push(r, "reference", 9, c, cn) < 0)
                goto nomem;
        } else if (eqn(n, nl, "metadata")) {
            if (parse_metadata(&o, r, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "target")) {
            const char *c = o.val;
            size_t cn = o.vlen;
            trim(&c, &cn);
            if (eqn(c, cn, "src_ip")) r->target = 1;
            else if (eqn(c, cn, "dest_ip")) r->target = 2;
            else {
                seterr(e, o.vcol, "target: expected src_ip or dest_ip");
                goto fail;
            }
        } else if (eqn(n, nl, "content")) {
            if (parse_content(&o, r, e, 0) < 0)
                goto fail;
            r->payload = 1;
        } else if (eqn(n, nl, "nocase") || eqn(n, nl, "depth") || eqn(n, nl, "offset") ||
                   eqn(n, nl, "distance") || eqn(n, nl, "within") ||
                   eqn(n, nl, "fast_pattern") || eqn(n, nl, "startswith") ||
                   eqn(n, nl, "endswith") || eqn(n, nl, "rawbytes")) {
            if (parse_modifier(&o, r, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "pcre")) {
            const char *c = o.val;
            size_t cn = o.vlen;
            trim(&c, &cn);
            int neg = cn > 0 && c[0] == '!';
            struct opt o2 = o;
            if (neg) {
                o2.val = c + 1;
                o2.vlen = cn - 1;
                o2.vcol++;
            }
            sub = parse_pcre(&o2, neg, r, e, &unsupported);
            if (sub < 0)
                goto fail;
            r->payload = 1;
        } else if (eqn(n, nl, "flow")) {
            if ((sub = parse_flow(&o, r, e, &unsupported)) < 0)
                goto fail;
        } else if (eqn(n, nl, "flags")) {
            if (parse_flags(&o, r, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "dsize")) {
            if (parse_numkw(&o, &r->dsize, 65535, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "ttl")) {
            if (parse_numkw(&o, &r->ttl, 255, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "itype")) {
            if (parse_numkw(&o, &r->itype, 255, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "icode")) {
            if (parse_numkw(&o, &r->icode, 255, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "icmp_id")) {
            if (parse_numkw(&o, &r->icmp_id, 65535, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "icmp_seq")) {
            if (parse_numkw(&o, &r->icmp_seq, 65535, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "ip_proto")) {
            const char *c = o.val;
            size_t cn = o.vlen;
            trim(&c, &cn);
            r->ip_proto_op = '=';
            if (cn > 0 && (c[0] == '!' || c[0] == '<' || c[0] == '>')) {
                r->ip_proto_op = (uint8_t)c[0];
                c++;
                cn--;
            }
            if (parse_i64(c, cn, 0, 255, &v) == 0) r->ip_proto = (int)v;
            else if (eqn_ci(c, cn, "tcp")) r->ip_proto = 6;
            else if (eqn_ci(c, cn, "udp")) r->ip_proto = 17;
            else if (eqn_ci(c, cn, "icmp")) r->ip_proto = 1;
            else if (eqn_ci(c, cn, "ipv6-icmp") || eqn_ci(c, cn, "icmpv6")) r->ip_proto = 58;
            else if (eqn_ci(c, cn, "igmp")) r->ip_proto = 2;
            else if (eqn_ci(c, cn, "gre")) r->ip_proto = 47;
            else if (eqn_ci(c, cn, "esp")) r->ip_proto = 50;
            else if (eqn_ci(c, cn, "ah")) r->ip_proto = 51;
            else if (eqn_ci(c, cn, "sctp")) r->ip_proto = 132;
            else {
                seterr(e, o.vcol, "ip_proto: bad protocol '%.*s'", (int)cn, c);
                goto fail;
            }
        } else if (eqn(n, nl, "threshold")) {
            if (r->threshold.type) {
                seterr(e, o.col, "threshold set twice");
                goto fail;
            }
            if ((sub = parse_threshold(&o, 0, &r->threshold, e, &unsupported)) < 0)
                goto fail;
        } else if (eqn(n, nl, "detection_filter")) {
            if (r->detection.type) {
                seterr(e, o.col, "detection_filter set twice");
                goto fail;
            }
            if ((sub = parse_threshold(&o, 1, &r->detection, e, &unsupported)) < 0)
                goto fail;
        } else if (eqn(n, nl, "flowbits")) {
            if (parse_flowbits(&o, r, e) < 0)
                goto fail;
        } else if (eqn(n, nl, "noalert")) {
            r->noalert = 1;
        } else if (eqn(n, nl, "isdataat")) {
            if (parse_isdataat(&o, r, e) < 0)
                goto fail;
            r->payload = 1;
        } else if (eqn(n, nl, "byte_test")) {
            if ((sub = parse_byte_op(&o, r, SM_BYTE_TEST, e, &unsupported)) < 0)
                goto fail;
            r->payload = 1;
        } else if (eqn(n, nl, "byte_jump")) {
            if ((sub = parse_byte_op(&o, r, SM_BYTE_JUMP, e, &unsupported)) < 0)
                goto fail;
            r->payload = 1;
        } else if (eqn(n, nl, "byte_extract")) {
            if ((sub = parse_byte_op(&o, r, SM_BYTE_EXTRACT, e, &unsupported)) < 0)
                goto fail;
            r->payload = 1;
        } else if (eqn(n, nl, "bsize")) {
            struct sig_sm *m = sm_push(r);
            if (m == NULL)
                goto nomem;
            m->type = SM_BSIZE;
            if (parse_numkw(&o, &m->num, 0xffffffffLL, e) < 0)
                goto fail;
            r->payload = 1;
        }
        if (sub == 1 && unsupported && e->keyword[0] == '\0')
            snprintf(e->keyword, sizeof e->keyword, "%s", unsupported);
    }
    if (rc < 0)
        goto fail;
    if (!have_sid) {
        seterr(e, (int)close, "rule has no sid");
        goto fail;
    }
    if (e->keyword[0] != '\0')
        return SIG_PARSE_SKIP;  /* r keeps sid for the warning; caller frees */
    /* flow:only_stream / no_stream on tcp */
    if (r->flow & FL_ONLY_STREAM) {
        if (r->proto != SIG_P_TCP && r->proto != SIG_P_IP) {
            seterr(e, 1, "flow:only_stream on a non-TCP rule");
            goto fail;
        }
        r->tcp_mode = SIG_TCP_STREAM;
    }
    if (r->flow & FL_NO_STREAM)
        r->tcp_mode = SIG_TCP_PKT;
    /* dsize is a packet property: such rules inspect packets */
    if (r->dsize.op && r->tcp_mode == SIG_TCP_STREAM) {
        seterr(e, 1, "dsize on a stream-only rule");
        goto fail;
    }
    /* fast pattern: explicit, else the longest positive content */
    r->fast = -1;
    uint32_t best = 0;
    for (size_t i = 0; i < r->nsm; i++) {
        struct sig_sm *m = &r->sm[i];
        if (m->type != SM_CONTENT || m->neg)
            continue;
        if (m->fast_pattern) {
            r->fast = (int)i;
            break;
        }
        if (m->len > best) {
            best = m->len;
            r->fast = (int)i;
        }
    }
    if (r->gid == 0)
        r->gid = 1;
    return SIG_PARSE_OK;
nomem:
    seterr(e, 1, "out of memory");
fail:
    sig_rule_free(r);
    return SIG_PARSE_ERROR;
}

/* ---- classification.config ------------------------------------------------------------ */

int sig_class_line(struct sig_classes *cl, const char *line, char *why, size_t whylen)
{
    const char *s = line;
    size_t n = strlen(s);
    trim(&s, &n);
    if (n == 0 || s[0] == '#')
        return 0;
    static const char prefix[] = "config classification:";
    if (n < sizeof prefix - 1 || strncmp(s, prefix, sizeof prefix - 1) != 0) {
        snprintf(why, whylen, "expected 'config classification: name,description,priority'");
        return -1;
    }
    s += sizeof prefix - 1;
    n -= sizeof prefix - 1;
    const char *c1 = memchr(s, ',', n);
    const char *c2 = NULL;
    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == ',') {
            c2 = s + i - 1;
            break;
        }
    if (c1 == NULL || c2 == NULL || c1 == c2) {
        snprintf(why, whylen, "expected three comma-separated fields");
        return -1;
    }
    const char *nm = s, *ds = c1 + 1, *pr = c2 + 1;
    size_t nn = (size_t)(c1 - s), dn = (size_t)(c2 - ds), pn = n - (size_t)(pr - s);
    trim(&nm, &nn);
    trim(&ds, &dn);
    int64_t p;
    if (nn == 0 || dn == 0 || parse_i64(pr, pn, 1, 255, &p) < 0) {
        snprintf(why, whylen, "bad name, description or priority");
        return -1;
    }
    for (size_t i = 0; i < cl->n; i++) {
        if (eqn(nm, nn, cl->c[i].name)) {
            snprintf(why, whylen, "duplicate classification '%.*s'", (int)nn, nm);
            return -1;
        }
    }
    struct sig_class *a = realloc(cl->c, (cl->n + 1) * sizeof *a);
    if (a == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    cl->c = a;
    a[cl->n].name = dupn(nm, nn);
    a[cl->n].desc = dupn(ds, dn);
    a[cl->n].priority = (uint32_t)p;
    if (a[cl->n].name == NULL || a[cl->n].desc == NULL) {
        free(a[cl->n].name);
        free(a[cl->n].desc);
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    cl->n++;
    return 1;
}

const struct sig_class *sig_class_find(const struct sig_classes *cl, const char *name)
{
    for (size_t i = 0; i < cl->n; i++)
        if (strcmp(cl->c[i].name, name) == 0)
            return &cl->c[i];
    return NULL;
}

void sig_classes_free(struct sig_classes *cl)
{
    for (size_t i = 0; i < cl->n; i++) {
        free(cl->c[i].name);
        free(cl->c[i].desc);
    }
    free(cl->c);
    cl->c = NULL;
    cl->n = 0;
}
