/*
 * daemon.h - running as a service: --daemon, --pidfile and systemd's
 * notification socket ($NOTIFY_SOCKET, Type=notify).
 */
#ifndef VIGIL_DAEMON_H
#define VIGIL_DAEMON_H

#include <stddef.h>

/*
 * Detach: fork, setsid, fork, chdir /, stdin and stdout on /dev/null
 * (stderr stays: point it at a file). The first process waits until the
 * daemon calls vigil_daemon_ready() and exits with the status it reports
 * (1 if the daemon dies first), so `vigil --daemon` fails visibly when
 * the capture or the rules are wrong. Returns in the daemon only; -1 with
 * err if the fork failed.
 */
int vigil_daemon_start(char *err, size_t errlen);

/* Report the setup's outcome to the waiting parent (no-op without
 * --daemon): 0 ready, else the exit status it should use. */
void vigil_daemon_ready(int status);

/* Create and lock FILE holding our pid; -1 with err if another process
 * holds it. The lock lives as long as the process. */
int vigil_pidfile_open(const char *path, char *err, size_t errlen);
/* Remove it at exit (when the directory still lets us). */
void vigil_pidfile_remove(void);

/* Open the notification socket ($NOTIFY_SOCKET) before privileges go;
 * quiet no-op without it. */
void vigil_notify_init(void);
/* Send a state string, e.g. "READY=1", "RELOADING=1", "STOPPING=1". */
void vigil_notify(const char *state);

#endif
