/* fake_http.h: a small HTTP/1.1 server on 127.0.0.1 for the driver's tests: one thread
 * accepts connections, each served by its own thread (so parallel clients are served in
 * parallel, and counted: max_active), which reads a request (headers + Content-Length
 * body), calls the test's handler under a mutex, waits the handler's delay_ms outside it
 * (a slow server) and answers with Connection: close. Used as the metrics endpoint
 * Prometheus scrapes, as a fake Prometheus that answers garbage, and as the fake
 * Kubernetes API that checks the scale-subresource contract. Header-only (static): the
 * test binaries are single files. Loopback only. */
#ifndef GP_TEST_FAKE_HTTP_H
#define GP_TEST_FAKE_HTTP_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct fake_req {
    char method[16];
    char path[1024];
    char content_type[128];
    char authorization[512];
    char body[8192];
    size_t body_len;
} fake_req;

typedef struct fake_rep {
    int status;
    int delay_ms; /* wait this long before answering (outside the handler's mutex) */
    char content_type[64];
    char body[1 << 20];
} fake_rep;

typedef void (*fake_handler)(void *ctx, const fake_req *req, fake_rep *rep);

typedef struct fake_http {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t mu;  /* the handler's, and the test's when it changes what it serves */
    pthread_mutex_t cmu; /* the connection count */
    pthread_cond_t idle;
    int active, max_active, served;
    volatile int stop;
    fake_handler fn;
    void *ctx;
} fake_http;

static void fake_http_lock(fake_http *h) { pthread_mutex_lock(&h->mu); }
static void fake_http_unlock(fake_http *h) { pthread_mutex_unlock(&h->mu); }

static void fake_header(const char *hdrs, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = hdrs; p && *p; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r\n");
            snprintf(out, len, "%.*s", (int)vl, v);
            return;
        }
    }
}

static void fake_serve_one(fake_http *h, int c)
{
    char *buf = malloc(65536);
    fake_req *req = calloc(1, sizeof(*req));
    fake_rep *rep = calloc(1, sizeof(*rep));
    if (!buf || !req || !rep)
        goto out;
    size_t got = 0;
    char *end = NULL;
    while (got < 65535) {
        struct pollfd p = {c, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0)
            goto out;
        ssize_t r = recv(c, buf + got, 65535 - got, 0);
        if (r <= 0)
            goto out;
        got += (size_t)r;
        buf[got] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")))
            break;
    }
    if (!end)
        goto out;
    char cl[32];
    fake_header(buf, "Content-Length", cl, sizeof(cl));
    size_t want = (size_t)atol(cl), have = got - (size_t)(end + 4 - buf);
    while (have < want && got < 65535) {
        ssize_t r = recv(c, buf + got, 65535 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        have += (size_t)r;
        buf[got] = '\0';
    }
    sscanf(buf, "%15s %1023s", req->method, req->path);
    fake_header(buf, "Content-Type", req->content_type, sizeof(req->content_type));
    fake_header(buf, "Authorization", req->authorization, sizeof(req->authorization));
    req->body_len = have < sizeof(req->body) - 1 ? have : sizeof(req->body) - 1;
    memcpy(req->body, end + 4, req->body_len);
    req->body[req->body_len] = '\0';
    rep->status = 200;
    snprintf(rep->content_type, sizeof(rep->content_type), "application/json");
    fake_http_lock(h);
    h->fn(h->ctx, req, rep);
    fake_http_unlock(h);
    for (int waited = 0; waited < rep->delay_ms && !h->stop; waited += 10) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    char head[256];
    size_t bl = strlen(rep->body);
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      rep->status, rep->content_type, bl);
    if (send(c, head, (size_t)hl, MSG_NOSIGNAL) == hl)
        (void)!send(c, rep->body, bl, MSG_NOSIGNAL);
out:
    free(buf);
    free(req);
    free(rep);
    close(c);
}

typedef struct fake_conn {
    fake_http *h;
    int fd;
} fake_conn;

static void *fake_conn_main(void *arg)
{
    fake_conn *c = arg;
    fake_http *h = c->h;
    fake_serve_one(h, c->fd);
    free(c);
    pthread_mutex_lock(&h->cmu);
    h->active--;
    h->served++;
    pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->cmu);
    return NULL;
}

static void *fake_http_loop(void *arg)
{
    fake_http *h = arg;
    while (!h->stop) {
        struct pollfd p = {h->fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(h->fd, NULL, NULL);
        if (fd < 0)
            continue;
        fake_conn *c = malloc(sizeof(*c));
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_mutex_lock(&h->cmu);
        h->active++;
        if (h->active > h->max_active)
            h->max_active = h->active;
        pthread_mutex_unlock(&h->cmu);
        if (c) {
            c->h = h;
            c->fd = fd;
        }
        if (!c || pthread_create(&t, &at, fake_conn_main, c) != 0) {
            free(c);
            close(fd);
            pthread_mutex_lock(&h->cmu);
            h->active--;
            pthread_mutex_unlock(&h->cmu);
        }
        pthread_attr_destroy(&at);
    }
    return NULL;
}

static int fake_http_start(fake_http *h, fake_handler fn, void *ctx)
{
    memset(h, 0, sizeof(*h));
    h->fn = fn;
    h->ctx = ctx;
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->cmu, NULL);
    pthread_cond_init(&h->idle, NULL);
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (h->fd < 0)
        return -1;
    int one = 1;
    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t al = sizeof(a);
    if (bind(h->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(h->fd, 64) < 0 ||
        getsockname(h->fd, (struct sockaddr *)&a, &al) < 0) {
        close(h->fd);
        return -1;
    }
    h->port = ntohs(a.sin_port);
    return pthread_create(&h->thread, NULL, fake_http_loop, h) == 0 ? 0 : -1;
}

static void fake_http_stop(fake_http *h)
{
    h->stop = 1;
    pthread_join(h->thread, NULL);
    pthread_mutex_lock(&h->cmu); /* the connections still being served end (delays stop) */
    while (h->active > 0)
        pthread_cond_wait(&h->idle, &h->cmu);
    pthread_mutex_unlock(&h->cmu);
    close(h->fd);
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->cmu);
    pthread_cond_destroy(&h->idle);
}

/* A free loopback TCP port (bound and released: good enough for a test's servers). */
static int fake_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* ---- the fake Kubernetes API: one Deployment, its scale subresource ---- */

typedef struct fake_kube {
    char ns[64], name[64], token[128];
    int replicas, ready;
    int fail_get_garbage; /* the next N GETs answer malformed JSON */
    int fail_patch_500;   /* the next N PATCHes answer 500 */
    int fail_patch_409;   /* the next N PATCHes answer 409 Conflict */
    int gets, patches, patches_ok;
    int contract_violations;
    char violation[4096];
    int patched[256]; /* every replicas value a PATCH asked for */
    int n_patched;
} fake_kube;

/* The scale-subresource contract: PATCH .../deployments/NAME/scale, Content-Type
 * application/merge-patch+json, body exactly {"spec":{"replicas":N}} with N >= 0, and the
 * bearer token; GET .../deployments/NAME with the token. */
static void fake_kube_handler(void *ctx, const fake_req *req, fake_rep *rep)
{
    fake_kube *k = ctx;
    char dep[512], scale[600], auth[200];
    snprintf(dep, sizeof(dep), "/apis/apps/v1/namespaces/%s/deployments/%s", k->ns, k->name);
    snprintf(scale, sizeof(scale), "%s/scale", dep);
    snprintf(auth, sizeof(auth), "Bearer %s", k->token);
    if (strcmp(req->authorization, auth) != 0) {
        rep->status = 401;
        snprintf(rep->body, sizeof(rep->body), "{\"kind\":\"Status\",\"code\":401}");
        k->contract_violations++;
        snprintf(k->violation, sizeof(k->violation), "%s %.900s without the token", req->method,
                 req->path);
        return;
    }
    if (strcmp(req->method, "GET") == 0 && strcmp(req->path, dep) == 0) {
        k->gets++;
        if (k->fail_get_garbage > 0) {
            k->fail_get_garbage--;
            snprintf(rep->body, sizeof(rep->body), "{\"spec\": {\"replicas\": 3,,, oops");
            return;
        }
        snprintf(rep->body, sizeof(rep->body),
                 "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
                 "\"%s\",\"namespace\":\"%s\"},\"spec\":{\"replicas\":%d},\"status\":"
                 "{\"replicas\":%d,\"readyReplicas\":%d}}",
                 k->name, k->ns, k->replicas, k->replicas, k->ready);
        return;
    }
    if (strcmp(req->method, "PATCH") == 0 && strcmp(req->path, scale) == 0) {
        k->patches++;
        int n = -1;
        char tail = 0;
        bool ok = strcmp(req->content_type, "application/merge-patch+json") == 0 &&
                  sscanf(req->body, "{\"spec\":{\"replicas\":%d}%c", &n, &tail) == 2 &&
                  tail == '}' && req->body[strlen(req->body) - 1] == '}' && n >= 0;
        if (!ok) {
            k->contract_violations++;
            snprintf(k->violation, sizeof(k->violation),
                     "PATCH %.900s type \"%.100s\" body \"%.900s\"", req->path, req->content_type,
                     req->body);
            rep->status = 400;
            snprintf(rep->body, sizeof(rep->body), "{\"kind\":\"Status\",\"code\":400}");
            return;
        }
        if (k->n_patched < 256)
            k->patched[k->n_patched++] = n;
        if (k->fail_patch_500 > 0) {
            k->fail_patch_500--;
            rep->status = 500;
            snprintf(rep->body, sizeof(rep->body),
                     "{\"kind\":\"Status\",\"code\":500,\"message\":\"etcdserver: timeout\"}");
            return;
        }
        if (k->fail_patch_409 > 0) {
            k->fail_patch_409--;
            rep->status = 409;
            snprintf(rep->body, sizeof(rep->body),
                     "{\"kind\":\"Status\",\"code\":409,\"reason\":\"Conflict\",\"message\":"
                     "\"the object has been modified\"}");
            return;
        }
        k->patches_ok++;
        k->replicas = n;
        snprintf(
            rep->body, sizeof(rep->body),
            "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":"
            "\"%s\",\"namespace\":\"%s\"},\"spec\":{\"replicas\":%d},\"status\":{\"replicas\":%d}}",
            k->name, k->ns, n, k->replicas);
        return;
    }
    k->contract_violations++;
    snprintf(k->violation, sizeof(k->violation), "unexpected %s %.900s", req->method, req->path);
    rep->status = 404;
    snprintf(rep->body, sizeof(rep->body), "{\"kind\":\"Status\",\"code\":404}");
}

#endif
