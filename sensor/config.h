/*
 * config.h - the rule directory's settings files (the *.conf files in rules/).
 *
 * Format, one item per line:
 *     # a comment (also ';')
 *     [section]            a detector name, or "vigil" for the core
 *     key = value          key: [a-z0-9_.]; value: up to the end of line
 * Whitespace around keys and values is ignored. Anything else is an error
 * naming the file and line. Every entry remembers where it came from, so a
 * bad value found later (a range check in a plugin) can still name it.
 */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct vigil_config_entry {
    char *section;
    char *key;
    char *value;
    const char *file;           /* points into vigil_config.files */
    int line;
    int used;                   /* read by someone: unused keys are typos */
};

struct vigil_config {
    struct vigil_config_entry *entries;
    size_t count, cap;
    char **files;               /* names of the files loaded */
    size_t nfiles;
};

void vigil_config_init(struct vigil_config *cfg);
void vigil_config_free(struct vigil_config *cfg);

/* Parse text (len bytes) read from `name`. 0, or -1 with "name:line: why". */
int vigil_config_parse(struct vigil_config *cfg, const char *name,
                       const char *text, size_t len, char *err, size_t errlen);

/* Load one file / every *.conf file of a directory, in name order. */
int vigil_config_load_file(struct vigil_config *cfg, const char *path,
                           char *err, size_t errlen);
int vigil_config_load_dir(struct vigil_config *cfg, const char *dir,
                          char *err, size_t errlen);

/*
 * Set section/key to value, replacing a value read from a file: settings
 * given on the command line (origin names them in error messages).
 * 0, or -1 with the reason in err.
 */
int vigil_config_set(struct vigil_config *cfg, const char *origin, const char *section,
                     const char *key, const char *value, char *err, size_t errlen);

/* Load a settings file whose values override what is already set (-c);
 * errors and relative paths refer to that file and its lines. */
int vigil_config_overlay_file(struct vigil_config *cfg, const char *path, char *err,
                              size_t errlen);

/* Parse "section.key=value" (as given to --set) and set it. */
int vigil_config_set_text(struct vigil_config *cfg, const char *origin, const char *text,
                          char *err, size_t errlen);

/*
 * The path an entry names, as a new string (free it), or NULL without
 * memory: relative to the directory of the settings file it came from,
 * unless it is absolute or was given on the command line (relative to the
 * working directory, as the shell would read it).
 */
char *vigil_config_entry_path(const struct vigil_config_entry *e);

/* The entry for section/key (marked used), or NULL. */
struct vigil_config_entry *vigil_config_find(struct vigil_config *cfg,
                                             const char *section, const char *key);

/*
 * Integer value within [min, max]; `def` when absent. 0 on success; -1
 * with "file:line: key: why" in err when present but invalid.
 */
int vigil_config_int(struct vigil_config *cfg, const char *section,
                     const char *key, int64_t def, int64_t min, int64_t max,
                     int64_t *out, char *err, size_t errlen);

#endif
