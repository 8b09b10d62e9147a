/*
 * dirlist.h - the files of a directory that a filter accepts, as full
 * paths in name order (so every run reads them in the same order).
 */
#ifndef VIGIL_DIRLIST_H
#define VIGIL_DIRLIST_H

#include <stddef.h>

struct vigil_dirlist {
    char **paths;               /* "dir/name" */
    size_t count;
};

/* Accept a file: its name and its full path. */
typedef int (*vigil_dirlist_keep_fn)(const char *name, const char *path);

/*
 * Fill *out with the regular files of dir (names starting with '.'
 * skipped) that keep() accepts, at most max of them. 0, or -1 with
 * "dir: why" in err.
 */
int vigil_dirlist_read(struct vigil_dirlist *out, const char *dir, vigil_dirlist_keep_fn keep,
                       size_t max, char *err, size_t errlen);
void vigil_dirlist_free(struct vigil_dirlist *list);

/* Whether name ends with suffix (and is longer than it). */
int vigil_has_suffix(const char *name, const char *suffix);

#endif
