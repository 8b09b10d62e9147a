/* privdrop.c - drop root and capabilities (see privdrop.h). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "log.h"
#include "privdrop.h"

int vigil_privdrop_resolve(struct vigil_privdrop *pd, char *err, size_t errlen)
{
    if (pd->user == NULL && pd->group == NULL)
        return 0;
    if (pd->user == NULL) {
        vigil_seterr(err, errlen, "--group needs --user");
        return -1;
    }
    struct passwd *pw = getpwnam(pd->user);
    if (pw == NULL) {
        char *end;
        unsigned long v = strtoul(pd->user, &end, 10);
        if (*pd->user == '\0' || *end != '\0') {
            vigil_seterr(err, errlen, "--user %s: no such user", pd->user);
            return -1;
        }
        pd->uid = (uid_t)v;
        pd->gid = (gid_t)v;
    } else {
        pd->uid = pw->pw_uid;
        pd->gid = pw->pw_gid;
    }
    if (pd->group) {
        struct group *gr = getgrnam(pd->group);
        char *end;
        unsigned long v = strtoul(pd->group, &end, 10);
        if (gr)
            pd->gid = gr->gr_gid;
        else if (*pd->group != '\0' && *end == '\0')
            pd->gid = (gid_t)v;
        else {
            vigil_seterr(err, errlen, "--group %s: no such group", pd->group);
            return -1;
        }
    }
    if (pd->uid == 0) {
        vigil_seterr(err, errlen, "--user %s: is root; pick an unprivileged user", pd->user);
        return -1;
    }
    pd->resolved = 1;
    return 0;
}

int vigil_privdrop_caps(unsigned long long *eff, unsigned long long *prm)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "CapEff: %llx", eff) == 1)
            found |= 1;
        else if (sscanf(line, "CapPrm: %llx", prm) == 1)
            found |= 2;
    }
    fclose(f);
    return found == 3 ? 0 : -1;
}

/* Clear the permitted, effective and inheritable sets (no libcap needed). */
static int clear_caps(void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &hdr, data);
}

void vigil_privdrop_thread(void)
{
    if (geteuid() == 0)
        return;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    clear_caps();
}

int vigil_privdrop_apply(const struct vigil_privdrop *pd, char *err, size_t errlen)
{
    if (pd->resolved) {
        if (setgroups(1, &pd->gid) < 0 || setgid(pd->gid) < 0 || setuid(pd->uid) < 0) {
            vigil_seterr(err, errlen, "cannot switch to user %s (uid %ld, gid %ld): %s",
                         pd->user, (long)pd->uid, (long)pd->gid, strerror(errno));
            return -1;
        }
        if (setuid(0) == 0) {
            vigil_seterr(err, errlen, "could regain root after dropping it; refusing to run");
            return -1;
        }
    }
    /* Ambient capabilities too: clearing inheritable+permitted clears them. */
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (geteuid() != 0 && clear_caps() < 0) {
        vigil_seterr(err, errlen, "cannot drop capabilities: %s", strerror(errno));
        return -1;
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (geteuid() == 0)
        return 0;               /* still root: no --user given */
    unsigned long long eff = ~0ULL, prm = ~0ULL;
    if (vigil_privdrop_caps(&eff, &prm) < 0) {
        vigil_seterr(err, errlen, "cannot read /proc/self/status to check capabilities");
        return -1;
    }
    if (eff != 0 || prm != 0) {
        vigil_seterr(err, errlen, "capabilities left after dropping them (CapEff %llx, "
                     "CapPrm %llx); refusing to run", eff, prm);
        return -1;
    }
    return 0;
}
