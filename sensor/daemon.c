/* daemon.c - detach, pidfile, systemd notify (see daemon.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

static int g_ready_fd = -1;
static int g_pid_fd = -1;
static char g_pid_path[4096];
static int g_notify_fd = -1;
static struct sockaddr_un g_notify_addr;
static socklen_t g_notify_len;

int vigil_daemon_start(char *err, size_t errlen)
{
    int p[2];
    if (pipe(p) < 0) {
        vigil_seterr(err, errlen, "--daemon: pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        vigil_seterr(err, errlen, "--daemon: fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) {              /* the caller's process: wait for the verdict */
        close(p[1]);
        unsigned char st = 1;
        ssize_t r;
        do
            r = read(p[0], &st, 1);
        while (r < 0 && errno == EINTR);
        waitpid(pid, NULL, 0);  /* the intermediate child exits at once */
        _exit(r == 1 ? st : 1);
    }
    close(p[0]);
    if (setsid() < 0)
        _exit(1);
    pid = fork();
    if (pid < 0)
        _exit(1);
    if (pid > 0)
        _exit(0);
    if (chdir("/") < 0)
        _exit(1);
    umask(027);
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
        dup2(nul, STDIN_FILENO);
        dup2(nul, STDOUT_FILENO);
        if (nul > STDERR_FILENO)
            close(nul);
    }
    g_ready_fd = p[1];
    return 0;
}

void vigil_daemon_ready(int status)
{
    if (g_ready_fd < 0)
        return;
    unsigned char st = (unsigned char)status;
    ssize_t r;
    do
        r = write(g_ready_fd, &st, 1);
    while (r < 0 && errno == EINTR);
    close(g_ready_fd);
    g_ready_fd = -1;
}

int vigil_pidfile_open(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        vigil_seterr(err, errlen, "--pidfile %s: %s", path, strerror(errno));
        return -1;
    }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, F_SETLK, &fl) < 0) {
        char old[32] = "";
        ssize_t n = read(fd, old, sizeof old - 1);
        old[n > 0 ? n : 0] = '\0';
        old[strcspn(old, "\n")] = '\0';
        vigil_seterr(err, errlen, "--pidfile %s: already running (pid %s)", path,
                     old[0] ? old : "?");
        close(fd);
        return -1;
    }
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        vigil_seterr(err, errlen, "--pidfile %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    g_pid_fd = fd;
    snprintf(g_pid_path, sizeof g_pid_path, "%s", path);
    return 0;
}

void vigil_pidfile_remove(void)
{
    if (g_pid_fd < 0)
        return;
    /* After the privilege drop the directory may not let us: then the
     * stale file is harmless (the lock, not the file, says who runs). */
    unlink(g_pid_path);
    close(g_pid_fd);
    g_pid_fd = -1;
}

void vigil_notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || (path[0] != '/' && path[0] != '@') ||
        strlen(path) >= sizeof g_notify_addr.sun_path)
        return;
    memset(&g_notify_addr, 0, sizeof g_notify_addr);
    g_notify_addr.sun_family = AF_UNIX;
    size_t len = strlen(path);
    memcpy(g_notify_addr.sun_path, path, len);
    if (path[0] == '@')
        g_notify_addr.sun_path[0] = '\0';     /* abstract namespace */
    g_notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    g_notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void vigil_notify(const char *state)
{
    if (g_notify_fd < 0)
        return;
    char msg[128];
    int n = snprintf(msg, sizeof msg, "%s\nMAINPID=%ld", state, (long)getpid());
    if (sendto(g_notify_fd, msg, (size_t)n, MSG_NOSIGNAL,
               (const struct sockaddr *)&g_notify_addr, g_notify_len) < 0 &&
        errno != ECONNREFUSED)
        return;
}
