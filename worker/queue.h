/* queue.h: the reliable-queue protocol of the live stack, on Redis, shared by the worker,
 * the load generator, the scraper and the tests. Keys (prefix "gpen" by default):
 *   gpen:pending           LIST  requests; producers LPUSH, workers take from the RIGHT
 *   gpen:processing:<w>    LIST  what worker w holds (BLMOVE pending -> here, atomically)
 *   gpen:hb:<w>            STRING heartbeat, expires dead_after ms after the last beat
 *   gpen:workers           SET   workers that may hold requests (the reaper's list)
 *   gpen:worker:<w>        HASH  pid, port, phases, spawn/ready/term/exit times
 *   gpen:result:<id>       HASH  the result record of request id
 *   gpen:done              LIST  ids of completed requests, in completion order
 *   gpen:requeued          INT   requests the reaper put back
 * A request is completed by one script that removes it from the worker's processing list
 * and writes its record only if it was still there, so a request completes exactly once
 * even when a slow worker is wrongly reaped. A dead worker's list goes back to the head
 * of gpen:pending in its original order (the simulator's drain requeue does the same). */
#ifndef GP_WORKER_QUEUE_H
#define GP_WORKER_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "worker/resp.h"

#define QUEUE_KEY_MAX 192

/* One request on the wire: "v1 <id> <submit_unix_us> <width> <height> <faces>". */
typedef struct queue_req {
    uint64_t id;
    int64_t submit_us; /* CLOCK_REALTIME, microseconds since 1970 */
    int width, height, faces;
} queue_req;

int queue_req_format(const queue_req *r, char *buf, size_t len);
/* Returns 0, or -1 when the text is not a request. */
int queue_req_parse(const char *s, size_t n, queue_req *r);
/* Width and height (3:2) of an image of `mp` megapixels. */
void queue_image_dims(double mp, int *width, int *height);

/* Keys. */
void queue_key(char *buf, size_t len, const char *prefix, const char *what, const char *id);

/* Completes request `payload` held by worker `wid` with the result fields (name, value
 * pairs, n_fields pairs). *completed = 1 if it was still held (record written and id
 * pushed on gpen:done), 0 if not (someone requeued it: nothing written). */
int queue_complete(resp_conn *c, const char *prefix, const char *wid, const char *payload,
                   uint64_t id, const char *const *fields, int n_fields, int *completed, char *why,
                   size_t why_len);
/* Puts a held request back at the head of gpen:pending (a draining worker that was handed
 * one after its stop). *returned = 1 if it was still held. */
int queue_giveback(resp_conn *c, const char *prefix, const char *wid, const char *payload,
                   int *returned, char *why, size_t why_len);
/* One reaper pass: every worker in gpen:workers without a heartbeat has its processing
 * list moved back to the head of gpen:pending and is removed from the set. *requeued =
 * requests moved, *workers = workers reaped. */
int queue_reap(resp_conn *c, const char *prefix, int64_t now_us, long long *requeued,
               long long *workers, char *why, size_t why_len);

/* CLOCK_REALTIME in microseconds. */
int64_t queue_now_us(void);

#endif
