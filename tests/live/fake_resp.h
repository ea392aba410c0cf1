/* fake_resp.h: a scripted Redis for the RESP client's tests (tests/test_resp.c,
 * tests/test_drive.c): one thread on 127.0.0.1 accepts connections one at a time, reads
 * one command (a RESP array of bulk strings) and answers with the test's bytes as they
 * are, after delay_ms, or never (silent: the connection is held until the next one or the
 * stop). Header-only (static), like fake_http.h. Loopback only. */
#ifndef GP_TEST_FAKE_RESP_H
#define GP_TEST_FAKE_RESP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct fake_resp {
    int fd, port;
    pthread_t thread;
    pthread_mutex_t mu;
    volatile int stop;
    char reply[8192];
    size_t reply_len;
    int delay_ms;     /* before answering */
    bool silent;      /* never answer */
    int commands;     /* commands read */
    char last[16384]; /* the last command's bytes */
    size_t last_len;
} fake_resp;

static void fake_resp_set(fake_resp *f, const char *bytes, size_t len, int delay_ms, bool silent)
{
    pthread_mutex_lock(&f->mu);
    memcpy(f->reply, bytes, len);
    f->reply_len = len;
    f->delay_ms = delay_ms;
    f->silent = silent;
    pthread_mutex_unlock(&f->mu);
}

/* true once buf holds a whole "*N\r\n" + N x "$L\r\n<L bytes>\r\n" command */
static bool fake_resp_complete(const char *buf, size_t n)
{
    if (n < 4 || buf[0] != '*')
        return false;
    char *end;
    long k = strtol(buf + 1, &end, 10);
    const char *p = strstr(buf, "\r\n");
    if (!p)
        return false;
    p += 2;
    for (long i = 0; i < k; i++) {
        if ((size_t)(p - buf) >= n || *p != '$')
            return false;
        long l = strtol(p + 1, &end, 10);
        const char *q = strstr(p, "\r\n");
        if (!q || (size_t)(q + 2 + l + 2 - buf) > n)
            return false;
        p = q + 2 + l + 2;
    }
    return true;
}

static void *fake_resp_loop(void *arg)
{
    fake_resp *f = arg;
    while (!f->stop) {
        struct pollfd p = {f->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        char buf[16384];
        size_t got = 0;
        while (got < sizeof(buf) - 1 && !f->stop) {
            struct pollfd q = {c, POLLIN, 0};
            if (poll(&q, 1, 50) <= 0)
                continue;
            ssize_t r = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
            if (r <= 0)
                break;
            got += (size_t)r;
            buf[got] = '\0';
            if (fake_resp_complete(buf, got))
                break;
        }
        pthread_mutex_lock(&f->mu);
        f->commands++;
        memcpy(f->last, buf, got);
        f->last_len = got;
        char reply[8192];
        size_t rl = f->reply_len;
        memcpy(reply, f->reply, rl);
        int delay = f->delay_ms;
        bool silent = f->silent;
        pthread_mutex_unlock(&f->mu);
        for (int w = 0; (w < delay || silent) && !f->stop; w += 10) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
            /* a silent answer ends when the client goes away */
            char probe;
            if (silent && recv(c, &probe, 1, MSG_DONTWAIT) == 0)
                break;
        }
        if (!silent)
            (void)!send(c, reply, rl, MSG_NOSIGNAL);
        close(c);
    }
    return NULL;
}

static int fake_resp_start(fake_resp *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (f->fd < 0)
        return -1;
    int one = 1;
    setsockopt(f->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (bind(f->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(f->fd, 16) < 0 ||
        getsockname(f->fd, (struct sockaddr *)&a, &al) < 0) {
        close(f->fd);
        return -1;
    }
    f->port = ntohs(a.sin_port);
    return pthread_create(&f->thread, NULL, fake_resp_loop, f) == 0 ? 0 : -1;
}

static void fake_resp_stop(fake_resp *f)
{
    f->stop = 1;
    pthread_join(f->thread, NULL);
    close(f->fd);
    pthread_mutex_destroy(&f->mu);
}

#endif
