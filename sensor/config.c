/* config.c - parser for the rule directory's *.conf settings files. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "dirlist.h"
#include "log.h"

#define CONFIG_MAX_LINE 4096
#define CONFIG_MAX_FILE (4u << 20)   /* a settings file, not a rule set */
#define CONFIG_MAX_ENTRIES 65536
#define CONFIG_MAX_FILES 1024

void vigil_config_init(struct vigil_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
}

void vigil_config_free(struct vigil_config *cfg)
{
    for (size_t i = 0; i < cfg->count; i++) {
        free(cfg->entries[i].section);
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    for (size_t i = 0; i < cfg->nfiles; i++)
        free(cfg->files[i]);
    free(cfg->entries);
    free(cfg->files);
    memset(cfg, 0, sizeof *cfg);
}

static int is_name_char(char c, int allow_dot)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || (allow_dot && c == '.');
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Trim [*b, *e) of spaces in place. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_space(**b))
        (*b)++;
    while (*e > *b && is_space((*e)[-1]))
        (*e)--;
}

static char *dup_range(const char *b, const char *e)
{
    size_t n = (size_t)(e - b);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, b, n);
        s[n] = '\0';
    }
    return s;
}

static const char *remember_file(struct vigil_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nfiles; i++)
        if (strcmp(cfg->files[i], name) == 0)
            return cfg->files[i];
    if (cfg->nfiles >= CONFIG_MAX_FILES)
        return NULL;
    char **nf = realloc(cfg->files, (cfg->nfiles + 1) * sizeof *nf);
    if (nf == NULL)
        return NULL;
    cfg->files = nf;
    char *copy = strdup(name);
    if (copy == NULL)
        return NULL;
    cfg->files[cfg->nfiles++] = copy;
    return copy;
}

static struct vigil_config_entry *lookup(struct vigil_config *cfg,
                                         const char *section, const char *key)
{
    for (size_t i = 0; i < cfg->count; i++) {
        struct vigil_config_entry *e = &cfg->entries[i];
        if (strcmp(e->section, section) == 0 && strcmp(e->key, key) == 0)
            return e;
    }
    return NULL;
}

static int add_entry(struct vigil_config *cfg, const char *file, int line,
                     const char *section, const char *kb, const char *ke,
                     const char *vb, const char *ve, char *err, size_t errlen)
{
    char *key = dup_range(kb, ke);
    if (key == NULL)
        goto nomem;
    struct vigil_config_entry *dup = lookup(cfg, section, key);
    if (dup) {
        vigil_seterr(err, errlen, "%s:%d: duplicate key '%s' in [%s] (first set at %s:%d)",
                     file, line, key, section, dup->file, dup->line);
        free(key);
        return -1;
    }
    if (cfg->count >= CONFIG_MAX_ENTRIES) {
        vigil_seterr(err, errlen, "%s:%d: more than %d settings", file, line,
                     CONFIG_MAX_ENTRIES);
        free(key);
        return -1;
    }
    if (cfg->count == cfg->cap) {
        size_t ncap = cfg->cap ? cfg->cap * 2 : 32;
        struct vigil_config_entry *ne = realloc(cfg->entries, ncap * sizeof *ne);
        if (ne == NULL) {
            free(key);
            goto nomem;
        }
        cfg->entries = ne;
        cfg->cap = ncap;
    }
    struct vigil_config_entry *e = &cfg->entries[cfg->count];
    e->section = strdup(section);
    e->key = key;
    e->value = dup_range(vb, ve);
    e->file = file;
    e->line = line;
    e->used = 0;
    if (e->section == NULL || e->value == NULL) {
        free(e->section);
        free(e->key);
        free(e->value);
        goto nomem;
    }
    cfg->count++;
    return 0;
nomem:
    vigil_seterr(err, errlen, "%s:%d: out of memory", file, line);
    return -1;
}

/* Parse "[name]" into section (a buffer of CONFIG_MAX_LINE). */
static int parse_section(const char *b, const char *e, char *section,
                         const char *file, int line, char *err, size_t errlen)
{
    if (e - b < 3 || e[-1] != ']') {
        vigil_seterr(err, errlen, "%s:%d: section header must be [name]", file, line);
        return -1;
    }
    const char *nb = b + 1, *ne = e - 1;
    trim(&nb, &ne);
    if (nb == ne) {
        vigil_seterr(err, errlen, "%s:%d: empty section name", file, line);
        return -1;
    }
    for (const char *p = nb; p < ne; p++) {
        if (!is_name_char(*p, 0)) {
            vigil_seterr(err, errlen,
                         "%s:%d: column %d: section names use [a-z0-9_-] only",
                         file, line, (int)(p - b) + 1);
            return -1;
        }
    }
    memcpy(section, nb, (size_t)(ne - nb));
    section[ne - nb] = '\0';
    return 0;
}

static int parse_line(struct vigil_config *cfg, const char *file, int line,
                      const char *b, const char *e, char *section,
                      char *err, size_t errlen)
{
    const char *lb = b;
    trim(&b, &e);
    if (b == e || *b == '#' || *b == ';')
        return 0;
    for (const char *p = b; p < e; p++) {
        if ((unsigned char)*p < 0x20 && *p != '\t') {
            vigil_seterr(err, errlen, "%s:%d: column %d: control character",
                         file, line, (int)(p - lb) + 1);
            return -1;
        }
    }
    if (*b == '[')
        return parse_section(b, e, section, file, line, err, errlen);
    const char *eq = memchr(b, '=', (size_t)(e - b));
    if (eq == NULL) {
        vigil_seterr(err, errlen, "%s:%d: expected 'key = value'", file, line);
        return -1;
    }
    const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
    trim(&kb, &ke);
    trim(&vb, &ve);
    if (kb == ke) {
        vigil_seterr(err, errlen, "%s:%d: missing key before '='", file, line);
        return -1;
    }
    for (const char *p = kb; p < ke; p++) {
        if (!is_name_char(*p, 1)) {
            vigil_seterr(err, errlen, "%s:%d: column %d: keys use [a-z0-9_.-] only",
                         file, line, (int)(p - lb) + 1);
            return -1;
        }
    }
    if (vb == ve) {
        vigil_seterr(err, errlen, "%s:%d: missing value for '%.*s'", file, line,
                     (int)(ke - kb), kb);
        return -1;
    }
    if (section[0] == '\0') {
        vigil_seterr(err, errlen, "%s:%d: setting before any [section]", file, line);
        return -1;
    }
    return add_entry(cfg, file, line, section, kb, ke, vb, ve, err, errlen);
}

int vigil_config_parse(struct vigil_config *cfg, const char *name,
                       const char *text, size_t len, char *err, size_t errlen)
{
    const char *file = remember_file(cfg, name);
    if (file == NULL) {
        vigil_seterr(err, errlen, "%s: out of memory or too many files", name);
        return -1;
    }
    char section[CONFIG_MAX_LINE + 1] = "";
    const char *p = text, *end = text + len;
    int line = 0;
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le - p > CONFIG_MAX_LINE) {
            vigil_seterr(err, errlen, "%s:%d: line longer than %d bytes", file, line,
                         CONFIG_MAX_LINE);
            return -1;
        }
        if (memchr(p, '\0', (size_t)(le - p))) {
            vigil_seterr(err, errlen, "%s:%d: NUL byte", file, line);
            return -1;
        }
        if (parse_line(cfg, file, line, p, le, section, err, errlen) < 0)
            return -1;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int vigil_config_load_file(struct vigil_config *cfg, const char *path,
                           char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        vigil_seterr(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(CONFIG_MAX_FILE + 1);
    if (buf == NULL) {
        fclose(f);
        vigil_seterr(err, errlen, "%s: out of memory", path);
        return -1;
    }
    size_t n = fread(buf, 1, CONFIG_MAX_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc = -1;
    if (bad)
        vigil_seterr(err, errlen, "%s: read error", path);
    else if (n > CONFIG_MAX_FILE)
        vigil_seterr(err, errlen, "%s: larger than %u bytes", path, CONFIG_MAX_FILE);
    else
        rc = vigil_config_parse(cfg, path, buf, n, err, errlen);
    free(buf);
    return rc;
}

/* Set section/key, recording where the value came from (line 0: command line). */
static int set_at(struct vigil_config *cfg, const char *origin, int line, const char *section,
                  const char *key, const char *value, char *err, size_t errlen)
{
    const char *file = remember_file(cfg, origin);
    if (file == NULL) {
        vigil_seterr(err, errlen, "%s: out of memory", origin);
        return -1;
    }
    struct vigil_config_entry *e = lookup(cfg, section, key);
    if (e == NULL)
        return add_entry(cfg, file, line, section, key, key + strlen(key), value,
                         value + strlen(value), err, errlen);
    char *copy = strdup(value);
    if (copy == NULL) {
        vigil_seterr(err, errlen, "%s: out of memory", origin);
        return -1;
    }
    free(e->value);
    e->value = copy;
    e->file = file;
    e->line = line;
    return 0;
}

int vigil_config_set(struct vigil_config *cfg, const char *origin, const char *section,
                     const char *key, const char *value, char *err, size_t errlen)
{
    return set_at(cfg, origin, 0, section, key, value, err, errlen);
}

int vigil_config_overlay_file(struct vigil_config *cfg, const char *path, char *err,
                              size_t errlen)
{
    struct vigil_config over;
    vigil_config_init(&over);
    int rc = vigil_config_load_file(&over, path, err, errlen);
    for (size_t i = 0; rc == 0 && i < over.count; i++) {
        const struct vigil_config_entry *e = &over.entries[i];
        rc = set_at(cfg, path, e->line, e->section, e->key, e->value, err, errlen);
    }
    vigil_config_free(&over);
    return rc;
}

int vigil_config_set_text(struct vigil_config *cfg, const char *origin, const char *text,
                          char *err, size_t errlen)
{
    /* Reuse the file parser: "[section]\nkey = value" gives the same checks. */
    const char *dot = strchr(text, '.'), *eq = strchr(text, '=');
    if (dot == NULL || eq == NULL || dot > eq || dot == text || strchr(text, '\n')) {
        vigil_seterr(err, errlen, "%s: '%s' is not section.key=value", origin, text);
        return -1;
    }
    char buf[CONFIG_MAX_LINE + 16];
    int n = snprintf(buf, sizeof buf, "[%.*s]\n%s\n", (int)(dot - text), text, dot + 1);
    if (n < 0 || (size_t)n >= sizeof buf) {
        vigil_seterr(err, errlen, "%s: setting too long", origin);
        return -1;
    }
    struct vigil_config one;
    vigil_config_init(&one);
    int rc = vigil_config_parse(&one, origin, buf, (size_t)n, err, errlen);
    if (rc == 0 && one.count == 1)
        rc = vigil_config_set(cfg, origin, one.entries[0].section, one.entries[0].key,
                              one.entries[0].value, err, errlen);
    vigil_config_free(&one);
    return rc;
}

static int is_conf(const char *name, const char *path)
{
    (void)path;
    return vigil_has_suffix(name, ".conf");
}

int vigil_config_load_dir(struct vigil_config *cfg, const char *dir,
                          char *err, size_t errlen)
{
    struct vigil_dirlist files;
    if (vigil_dirlist_read(&files, dir, is_conf, CONFIG_MAX_FILES, err, errlen) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < files.count && rc == 0; i++)
        rc = vigil_config_load_file(cfg, files.paths[i], err, errlen);
    vigil_dirlist_free(&files);
    return rc;
}

struct vigil_config_entry *vigil_config_find(struct vigil_config *cfg,
                                             const char *section, const char *key)
{
    struct vigil_config_entry *e = lookup(cfg, section, key);
    if (e)
        e->used = 1;
    return e;
}

int vigil_config_int(struct vigil_config *cfg, const char *section,
                     const char *key, int64_t def, int64_t min, int64_t max,
                     int64_t *out, char *err, size_t errlen)
{
    struct vigil_config_entry *e = vigil_config_find(cfg, section, key);
    if (e == NULL) {
        *out = def;
        return 0;
    }
    char *endp;
    errno = 0;
    long long v = strtoll(e->value, &endp, 10);
    if (errno != 0 || endp == e->value || *endp != '\0') {
        vigil_seterr(err, errlen, "%s:%d: %s: '%s' is not an integer", e->file,
                     e->line, key, e->value);
        return -1;
    }
    if (v < min || v > max) {
        vigil_seterr(err, errlen, "%s:%d: %s: %lld is outside [%" PRId64 ", %" PRId64 "]",
                     e->file, e->line, key, v, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

char *vigil_config_entry_path(const struct vigil_config_entry *e)
{
    const char *slash = strrchr(e->file, '/');
    if (e->value[0] == '/' || e->line == 0 || slash == NULL)
        return strdup(e->value);
    size_t dirlen = (size_t)(slash - e->file), n = dirlen + 1 + strlen(e->value) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%.*s/%s", (int)dirlen, e->file, e->value);
    return p;
}
