/* test_resp.c: the project's one Redis client (worker/resp.c), which the worker, the load
 * generator, the scraper and the live driver all use, against a scripted server
 * (tests/live/fake_resp.h): the command bytes it writes (small and large arguments), every
 * reply type, replies that must be refused (bad lengths, nesting, a missing CRLF, a closed
 * connection), a read timeout, and the cancel hook the driver uses to stop on SIGTERM.
 * Then the driver's own use of it: LLEN through drive/io.c (a negative length, an error
 * reply, a server that does not answer). The worker's use against a real redis-server is
 * tests/test_worker_live.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drive/io.h"
#include "worker/resp.h"
#include "tests/live/fake_resp.h"

static int setup(void **state)
{
    fake_resp *f = calloc(1, sizeof(*f));
    if (!f || fake_resp_start(f) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fake_resp_stop(*state);
    free(*state);
    return 0;
}

/* One command against the fake answering `reply`; the call's return and reply. */
static int one(fake_resp *f, const char *reply, size_t len, resp_reply *r, char *why,
               size_t why_len)
{
    fake_resp_set(f, reply, len, 0, false);
    resp_conn *c;
    if (resp_connect("127.0.0.1", f->port, 2000, &c, why, why_len) < 0)
        fail_msg("connect: %s", why);
    int rc = resp_commandl(c, r, why, why_len, "LLEN", "gpen:pending", NULL);
    resp_close(c);
    return rc;
}

static void test_command_bytes(void **state)
{
    fake_resp *f = *state;
    resp_reply r;
    char why[256];
    assert_int_equal(one(f, ":0\r\n", 4, &r, why, sizeof(why)), 0);
    resp_reply_free(&r);
    static const char want[] = "*2\r\n$4\r\nLLEN\r\n$12\r\ngpen:pending\r\n";
    assert_int_equal(f->last_len, sizeof(want) - 1);
    assert_memory_equal(f->last, want, sizeof(want) - 1);
    /* an argument larger than the client's 4 KiB header buffer goes out whole */
    char big[9000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fake_resp_set(f, "+OK\r\n", 5, 0, false);
    resp_conn *c;
    assert_int_equal(resp_connect("127.0.0.1", f->port, 2000, &c, why, sizeof(why)), 0);
    assert_int_equal(resp_commandl(c, &r, why, sizeof(why), "LPUSH", "k", big, NULL), 0);
    resp_close(c);
    assert_int_equal(r.type, RESP_STATUS);
    resp_reply_free(&r);
    char head[64];
    int hl =
        snprintf(head, sizeof(head), "*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$%zu\r\n", sizeof(big) - 1);
    assert_int_equal(f->last_len, (size_t)hl + sizeof(big) - 1 + 2);
    assert_memory_equal(f->last, head, (size_t)hl);
}

static void test_replies(void **state)
{
    fake_resp *f = *state;
    static const struct {
        const char *name, *bytes;
        int rc;
        resp_type type;
        long long integer;
        const char *str; /* the reply's text, or the failure's reason */
    } rows[] = {
        {"integer", ":42\r\n", 0, RESP_INT, 42, NULL},
        {"negative integer", ":-3\r\n", 0, RESP_INT, -3, NULL},
        {"status", "+OK\r\n", 0, RESP_STATUS, 0, "OK"},
        {"error reply (not a failure)", "-WRONGTYPE Operation\r\n", 0, RESP_ERROR, 0,
         "WRONGTYPE Operation"},
        {"bulk", "$3\r\nabc\r\n", 0, RESP_BULK, 0, "abc"},
        {"null bulk", "$-1\r\n", 0, RESP_NIL, 0, NULL},
        {"array", "*2\r\n:1\r\n$-1\r\n", 0, RESP_ARRAY, 0, NULL},
        {"bulk longer than 512 MiB", "$99999999999\r\n", -1, RESP_NIL, 0, "bad bulk length"},
        {"negative bulk length", "$-2\r\n", -1, RESP_NIL, 0, "bad bulk length"},
        {"bulk without its CRLF", "$3\r\nabcXY", -1, RESP_NIL, 0, "not terminated by CRLF"},
        {"nested too deep", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
         -1, RESP_NIL, 0, "nested too deep"},
        {"integer that is not", ":12a\r\n", -1, RESP_NIL, 0, "bad integer"},
        {"unknown type byte", "?x\r\n", -1, RESP_NIL, 0, "unexpected reply"},
        {"connection closed mid-reply", "$10\r\nabc", -1, RESP_NIL, 0, "connection closed"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        resp_reply r;
        char why[256] = "";
        int rc = one(f, rows[i].bytes, strlen(rows[i].bytes), &r, why, sizeof(why));
        if (rc != rows[i].rc)
            fail_msg("%s: rc %d want %d (%s)", rows[i].name, rc, rows[i].rc, why);
        if (rc < 0) {
            if (!strstr(why, rows[i].str))
                fail_msg("%s: \"%s\" lacks \"%s\"", rows[i].name, why, rows[i].str);
            continue;
        }
        if (r.type != rows[i].type)
            fail_msg("%s: type %d want %d", rows[i].name, r.type, rows[i].type);
        if (r.type == RESP_INT && r.integer != rows[i].integer)
            fail_msg("%s: %lld want %lld", rows[i].name, r.integer, rows[i].integer);
        if (rows[i].str && (!r.str || strcmp(r.str, rows[i].str) != 0))
            fail_msg("%s: \"%s\" want \"%s\"", rows[i].name, r.str ? r.str : "(null)", rows[i].str);
        if (r.type == RESP_ARRAY &&
            (r.n_elem != 2 || r.elem[0].type != RESP_INT || r.elem[1].type != RESP_NIL))
            fail_msg("%s: elements", rows[i].name);
        resp_reply_free(&r);
    }
}

/* A server that never answers: the read timeout ends the call. */
static void test_timeout(void **state)
{
    fake_resp *f = *state;
    fake_resp_set(f, "", 0, 0, true);
    resp_conn *c;
    char why[256];
    assert_int_equal(resp_connect("127.0.0.1", f->port, 200, &c, why, sizeof(why)), 0);
    resp_reply r;
    assert_int_equal(resp_commandl(c, &r, why, sizeof(why), "LLEN", "k", NULL), -1);
    resp_close(c);
    if (!strstr(why, "timed out"))
        fail_msg("\"%s\"", why);
}

static bool cancel_after(void *ctx)
{
    int *calls = ctx;
    return ++*calls >= 3;
}

/* The cancel hook ends a wait long before the timeout (3 s here: a hook that did not work
 * would end in "timed out", not "cancelled"). */
static void test_cancel(void **state)
{
    fake_resp *f = *state;
    fake_resp_set(f, "", 0, 0, true);
    int calls = 0;
    resp_conn *c;
    char why[256];
    assert_int_equal(
        resp_connect_cancel("127.0.0.1", f->port, 3000, cancel_after, &calls, &c, why, sizeof(why)),
        0);
    resp_reply r;
    assert_int_equal(resp_commandl(c, &r, why, sizeof(why), "LLEN", "k", NULL), -1);
    resp_close(c);
    if (!strstr(why, "cancelled"))
        fail_msg("\"%s\"", why);
    assert_true(calls >= 3);
}

/* The driver's LLEN through the same client. */
static void test_driver_llen(void **state)
{
    fake_resp *f = *state;
    static const struct {
        const char *name, *bytes;
        int rc;
        long long len;
        const char *why;
    } rows[] = {
        {"length", ":17\r\n", 0, 17, NULL},
        {"negative length", ":-5\r\n", -1, 0, "unexpected reply"},
        {"a string", "$2\r\n17\r\n", -1, 0, "unexpected reply"},
        {"error reply", "-WRONGTYPE Operation against a key holding the wrong kind\r\n", -1, 0,
         "redis error: WRONGTYPE"},
        {"garbage", "hello\r\n", -1, 0, "redis down"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fake_resp_set(f, rows[i].bytes, strlen(rows[i].bytes), 0, false);
        long long len = -1;
        char why[300] = "";
        int rc = redis_llen("127.0.0.1", f->port, "gpen:pending", 2000000, NULL, NULL, &len, why,
                            sizeof(why));
        if (rc != rows[i].rc || (rc == 0 && len != rows[i].len))
            fail_msg("%s: rc %d len %lld (%s)", rows[i].name, rc, len, why);
        if (rc < 0 && !strstr(why, rows[i].why))
            fail_msg("%s: \"%s\" lacks \"%s\"", rows[i].name, why, rows[i].why);
    }
    fake_resp_set(f, "", 0, 0, true);
    long long len;
    char why[300];
    assert_int_equal(
        redis_llen("127.0.0.1", f->port, "k", 200000, NULL, NULL, &len, why, sizeof(why)), -1);
    if (!strstr(why, "redis down") || !strstr(why, "timed out"))
        fail_msg("\"%s\"", why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_command_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_llen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
