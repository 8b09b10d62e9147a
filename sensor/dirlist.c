/* dirlist.c - sorted listings of directories. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dirlist.h"
#include "log.h"

int vigil_has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);
    return n > m && strcmp(name + n - m, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add(struct vigil_dirlist *l, const char *path)
{
    char **grown = realloc(l->paths, (l->count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    l->paths = grown;
    if ((l->paths[l->count] = strdup(path)) == NULL)
        return -1;
    l->count++;
    return 0;
}

int vigil_dirlist_read(struct vigil_dirlist *out, const char *dir, vigil_dirlist_keep_fn keep,
                       size_t max, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (d == NULL) {
        vigil_seterr(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        int len = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat st;
        if (len < 0 || (size_t)len >= sizeof path || stat(path, &st) < 0 ||
            !S_ISREG(st.st_mode) || !keep(de->d_name, path))
            continue;
        if (out->count >= max || add(out, path) < 0) {
            vigil_seterr(err, errlen, "%s: more than %zu files, or out of memory", dir, max);
            rc = -1;
        }
    }
    closedir(d);
    if (rc < 0) {
        vigil_dirlist_free(out);
        return -1;
    }
    qsort(out->paths, out->count, sizeof *out->paths, cmp_str);
    return 0;
}

void vigil_dirlist_free(struct vigil_dirlist *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->paths[i]);
    free(list->paths);
    memset(list, 0, sizeof *list);
}
