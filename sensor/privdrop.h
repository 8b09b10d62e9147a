/*
 * privdrop.h - give up privileges once the capture and outputs are open.
 *
 * As root with --user (and --group): setgroups to the one group, setgid,
 * setuid; the kernel clears every capability with the uid change. Started
 * as another user with capabilities (setcap cap_net_raw+ep, or systemd's
 * AmbientCapabilities=CAP_NET_RAW), every capability is dropped once the
 * capture is open. Either way /proc/self/status must then show CapEff and
 * CapPrm of 0, or the sensor refuses to run. PR_SET_NO_NEW_PRIVS is set so
 * nothing executed later can regain any.
 */
#ifndef VIGIL_PRIVDROP_H
#define VIGIL_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

struct vigil_privdrop {
    const char *user;           /* NULL: keep the uid */
    const char *group;          /* NULL: the user's primary group */
    uid_t uid;
    gid_t gid;
    int resolved;
};

/* Look the user and group up (before anything is opened). 0, or -1 + err. */
int vigil_privdrop_resolve(struct vigil_privdrop *pd, char *err, size_t errlen);

/* Change ids (if a user was given) and drop every capability, then check
 * /proc/self/status. 0, or -1 with the reason in err. */
int vigil_privdrop_apply(const struct vigil_privdrop *pd, char *err, size_t errlen);

/*
 * The first call of every helper thread (output senders): they need no
 * capability. Capability sets are per thread, so the drop made later by
 * the capture thread does not reach a thread started before it; a
 * non-root sensor started with CAP_NET_RAW (systemd AmbientCapabilities)
 * would leave it there. A thread of a root process keeps its sets: the
 * setuid() of the drop clears them in every thread, and needs them until.
 */
void vigil_privdrop_thread(void);

/* CapEff and CapPrm of this process, from /proc/self/status. 0 or -1. */
int vigil_privdrop_caps(unsigned long long *eff, unsigned long long *prm);

#endif
