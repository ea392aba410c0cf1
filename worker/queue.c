/* queue.c: the scripts and formats of queue.h. Scripts run atomically in Redis (EVAL),
 * which is what makes "remove from processing + write the record" one step. */
#include "worker/queue.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t queue_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int queue_req_format(const queue_req *r, char *buf, size_t len)
{
    int n = snprintf(buf, len, "v1 %" PRIu64 " %" PRId64 " %d %d %d", r->id, r->submit_us, r->width,
                     r->height, r->faces);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int queue_req_parse(const char *s, size_t n, queue_req *r)
{
    char tmp[160];
    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char tail;
    memset(r, 0, sizeof(*r));
    if (sscanf(tmp, "v1 %" SCNu64 " %" SCNd64 " %d %d %d %c", &r->id, &r->submit_us, &r->width,
               &r->height, &r->faces, &tail) != 5)
        return -1;
    if (r->width < 1 || r->height < 1 || r->faces < 0)
        return -1;
    return 0;
}

void queue_image_dims(double mp, int *width, int *height)
{
    double w = sqrt(mp * 1e6 * 1.5);
    *width = (int)lround(w);
    *height = (int)lround(w / 1.5);
    if (*width < 16)
        *width = 16;
    if (*height < 16)
        *height = 16;
}

void queue_key(char *buf, size_t len, const char *prefix, const char *what, const char *id)
{
    if (id)
        snprintf(buf, len, "%s:%s:%s", prefix, what, id);
    else
        snprintf(buf, len, "%s:%s", prefix, what);
}

/* KEYS: processing, result, done. ARGV: payload, id, then field/value pairs. */
static const char complete_lua[] =
    "if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then\n"
    "  if #ARGV > 2 then redis.call('HSET', KEYS[2], unpack(ARGV, 3)) end\n"
    "  redis.call('RPUSH', KEYS[3], ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* KEYS: processing, pending. ARGV: payload. */
static const char giveback_lua[] = "if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then\n"
                                   "  redis.call('RPUSH', KEYS[2], ARGV[1])\n"
                                   "  return 1\n"
                                   "end\n"
                                   "return 0\n";

/* KEYS: workers, pending, requeued. ARGV: prefix, now_us. Returns {requeued, workers}.
 * LMOVE LEFT RIGHT takes the newest held request first, so the oldest ends at the head. */
static const char reap_lua[] =
    "local moved, dead = 0, 0\n"
    "for _, w in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  if redis.call('EXISTS', ARGV[1] .. ':hb:' .. w) == 0 then\n"
    "    local proc = ARGV[1] .. ':processing:' .. w\n"
    "    while redis.call('LMOVE', proc, KEYS[2], 'LEFT', 'RIGHT') do moved = moved + 1 end\n"
    "    redis.call('SREM', KEYS[1], w)\n"
    "    redis.call('HSET', ARGV[1] .. ':worker:' .. w, 'reaped_us', ARGV[2])\n"
    "    dead = dead + 1\n"
    "  end\n"
    "end\n"
    "if moved > 0 then redis.call('INCRBY', KEYS[3], moved) end\n"
    "return {moved, dead}\n";

static int script_error(const resp_reply *r, char *why, size_t why_len)
{
    snprintf(why, why_len, "redis: %s",
             r->type == RESP_ERROR && r->str ? r->str : "unexpected reply");
    return -1;
}

int queue_complete(resp_conn *c, const char *prefix, const char *wid, const char *payload,
                   uint64_t id, const char *const *fields, int n_fields, int *completed, char *why,
                   size_t why_len)
{
    enum { MAXF = 24 };
    if (n_fields > MAXF) {
        snprintf(why, why_len, "queue: too many result fields");
        return -1;
    }
    char proc[QUEUE_KEY_MAX], res[QUEUE_KEY_MAX], done[QUEUE_KEY_MAX], ids[32];
    snprintf(ids, sizeof(ids), "%" PRIu64, id);
    queue_key(proc, sizeof(proc), prefix, "processing", wid);
    queue_key(res, sizeof(res), prefix, "result", ids);
    queue_key(done, sizeof(done), prefix, "done", NULL);
    const char *argv[8 + 2 * MAXF];
    int a = 0;
    argv[a++] = "EVAL";
    argv[a++] = complete_lua;
    argv[a++] = "3";
    argv[a++] = proc;
    argv[a++] = res;
    argv[a++] = done;
    argv[a++] = payload;
    argv[a++] = ids;
    for (int i = 0; i < 2 * n_fields; i++)
        argv[a++] = fields[i];
    resp_reply r;
    if (resp_command(c, a, argv, NULL, &r, why, why_len) < 0)
        return -1;
    long long v;
    int rc = 0;
    if (r.type != RESP_INT || resp_reply_int(&r, &v) < 0)
        rc = script_error(&r, why, why_len);
    else
        *completed = (int)v;
    resp_reply_free(&r);
    return rc;
}

int queue_giveback(resp_conn *c, const char *prefix, const char *wid, const char *payload,
                   int *returned, char *why, size_t why_len)
{
    char proc[QUEUE_KEY_MAX], pend[QUEUE_KEY_MAX];
    queue_key(proc, sizeof(proc), prefix, "processing", wid);
    queue_key(pend, sizeof(pend), prefix, "pending", NULL);
    resp_reply r;
    if (resp_commandl(c, &r, why, why_len, "EVAL", giveback_lua, "2", proc, pend, payload, NULL) <
        0)
        return -1;
    int rc = 0;
    if (r.type != RESP_INT)
        rc = script_error(&r, why, why_len);
    else
        *returned = (int)r.integer;
    resp_reply_free(&r);
    return rc;
}

int queue_reap(resp_conn *c, const char *prefix, int64_t now_us, long long *requeued,
               long long *workers, char *why, size_t why_len)
{
    char set[QUEUE_KEY_MAX], pend[QUEUE_KEY_MAX], rq[QUEUE_KEY_MAX], now[32];
    queue_key(set, sizeof(set), prefix, "workers", NULL);
    queue_key(pend, sizeof(pend), prefix, "pending", NULL);
    queue_key(rq, sizeof(rq), prefix, "requeued", NULL);
    snprintf(now, sizeof(now), "%" PRId64, now_us);
    resp_reply r;
    if (resp_commandl(c, &r, why, why_len, "EVAL", reap_lua, "3", set, pend, rq, prefix, now,
                      NULL) < 0)
        return -1;
    int rc = 0;
    if (r.type != RESP_ARRAY || r.n_elem != 2 || r.elem[0].type != RESP_INT ||
        r.elem[1].type != RESP_INT) {
        rc = script_error(&r, why, why_len);
    } else {
        *requeued = r.elem[0].integer;
        *workers = r.elem[1].integer;
    }
    resp_reply_free(&r);
    return rc;
}
