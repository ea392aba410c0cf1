/* test_run_cmd.c: `gpenlab run` as a user sees it (issue 12): the comparison table's
 * columns and width, the winner line with its paired interval and the export command, "none
 * meets it" with the closest, --set and --profile (applied, and checked as the file is),
 * the note when a profile has no cluster part of a pod start, no progress output when
 * stderr is not a terminal, and resuming only when every input is unchanged (the trace's
 * content, the profile). Runs $GPENLAB_BIN in a fresh temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/testutil.h"

typedef struct ran {
    int code;
    char out[16384], err[4096];
} ran;

static char dir[256];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(dir, sizeof(dir), "runcmd");
}

static int teardown(void **state)
{
    (void)state;
    return tu_rm_rf(dir);
}

static void write_file(const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    tu_write_text(p, text);
}

/* `gpenlab ARGS...` in dir: stdout and stderr apart (neither a terminal). */
static void run(const char *const *args, ran *r)
{
    gp_proc_result g = tu_gpenlab(dir, args);
    r->code = g.exit_code;
    snprintf(r->out, sizeof(r->out), "%s", g.out);
    snprintf(r->err, sizeof(r->err), "%s", g.err);
    gp_proc_result_free(&g);
}

static void has(const ran *r, const char *what, const char *needle)
{
    if (!strstr(r->out, needle))
        fail_msg("%s: stdout lacks \"%s\":\n%s\n(stderr: %s)", what, needle, r->out, r->err);
}

/* A profile whose pod start is the GPU process alone (no cluster part). */
static const char *const PROFILE =
    "format gpenlab-profile 1\ncard \"test card\"\nprovenance seed\nmp_grid 1 4\n"
    "stage work image 100 400\njitter none\neff 1 1.8 2.4\ngpu_mem_mib 10000\n"
    "model_mem_mib 100\nreq_mem_mib 100\ncold_phase boot const 2\n";

/* Poisson at 16 req/s for 10 min of 1-2 MP photos (0.1-0.2 s each): one pod at
 * concurrency 3 cannot keep up, two can. */
static void write_experiment(const char *name, const char *extra)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "name: e\nprofile: prof\nseed: 3\nreplications: 3\n"
             "workload: {type: poisson, rate_per_s: 16, duration: 10m,\n"
             "           image_mix: [{name: p, weight: 1, mp: [1, 2], faces: {1: 1}}]}\n"
             "cluster: {max_pods: 4, gpus: 4, concurrency: 3, slo: 1s, timeout: 20s,\n"
             "          price_per_gpu_hour: 2, currency: EUR}\n"
             "policies:\n"
             "  - {label: one, policy: static, config: {pods: 1}}\n"
             "  - {label: two, policy: static, config: {pods: 2}}\n"
             "  - {label: three, policy: static, config: {pods: 3}}\n"
             "output: {db: out.db}\n%s",
             extra);
    write_file(name, text);
}

static void test_table_winner_export(void **state)
{
    (void)state;
    write_file("prof", PROFILE);
    write_experiment("exp.yaml", "");
    ran r;
    run((const char *const[]){"run", "exp.yaml", "-j", "2", NULL}, &r);
    if (r.code != 0)
        fail_msg("run: exit %d: %s", r.code, r.err);
    /* the columns, with their units and the experiment's currency */
    static const char *const heads[] = {"SLO",  "P50",    "P95",  "P99",   "timeouts",
                                        "pod",  "starts", "cold", "waits", "GPU-h",
                                        "cost", "(EUR)",  "util", "(%)",   "(s)"};
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
        has(&r, "heading", heads[i]);
    /* every line of the table within 120 columns (UTF-8: continuation bytes take none) */
    size_t w = 0;
    for (const char *c = r.out; *c; c++) {
        if (*c == '\n') {
            if (w > 120)
                fail_msg("a line of %zu columns:\n%s", w, r.out);
            w = 0;
        } else {
            w += ((unsigned char)*c & 0xC0) != 0x80;
        }
    }
    /* the default objective: the cheapest with 99% within the SLO; two pods win over three
     * by one pod for the whole run, on every replication */
    has(&r, "winner", "winner: two, the cheapest policy with 99% of requests within 1 s: cost ");
    has(&r, "margin", " EUR cheaper than the runner-up three (paired 95% CI over 3 replications");
    /* the export command, the program as called */
    has(&r, "export", " export --policy two --from out.db\n");
    has(&r, "export", "export it: /");
    if (r.err[0])
        fail_msg("stderr is not a terminal, yet it got: %s", r.err);

    /* none meets a stricter objective: the closest is named, and offered as such */
    write_experiment("strict.yaml",
                     "objective: {minimise: cost, constraints: [{metric: p99_s, max: 0.01}]}\n");
    run((const char *const[]){"run", "strict.yaml", "--db", "strict.db", NULL}, &r);
    assert_int_equal(r.code, 0);
    has(&r, "none", "winner: none meets it: no policy is the cheapest policy with p99_s <= 0.01");
    has(&r, "closest", "  the closest: three (p99_s ");
    has(&r, "closest export", "export the closest (it misses the objective): ");
}

static void test_set_and_profile(void **state)
{
    (void)state;
    write_file("prof", PROFILE);
    write_experiment("exp.yaml", "");
    ran r;
    /* a --set goes through the file's checks: one line, its origin, did-you-mean */
    static const struct {
        const char *args[6], *want;
    } bad[] = {
        {{"run", "exp.yaml", "--set", "cluster.max_podz=12"},
         "gpenlab: --set cluster.max_podz=12: cluster.max_podz: unknown key 'max_podz' (did you "
         "mean 'max_pods'?)"},
        {{"run", "exp.yaml", "--set", "policies[0].config.podz=1"},
         "gpenlab: --set policies[0].config.podz=1: policies[0].config.podz: unknown key 'podz' "
         "(did you mean 'pods'?)"},
        {{"run", "exp.yaml", "--set", "policies[7].config.pods=1"}, "policies has no item [7]"},
        {{"run", "exp.yaml", "--set", "cluster.max_pods=0"},
         "--set cluster.max_pods=0: cluster.max_pods:"},
        {{"run", "exp.yaml", "--set", "cluster.max_pods"}, "--set: expected PATH=VALUE"},
        {{"run", "exp.yaml", "--profile", "nope"}, "nope: --profile: no such GPU profile"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        run(bad[i].args, &r);
        size_t lines = 0;
        for (const char *c = r.err; *c; c++)
            lines += *c == '\n';
        char words[256];
        if (r.code == 0 || lines != 1 || !strstr(r.err, bad[i].want))
            fail_msg("%s: exit %d, stderr (want one line with \"%s\"):\n%s",
                     tu_words(bad[i].args, words, sizeof(words)), r.code, bad[i].want, r.err);
    }
    /* applied: one pod for every entry, and a profile twice as slow from the current
     * directory, into their own database */
    char slow[1024];
    snprintf(slow, sizeof(slow), "%s", PROFILE);
    char *st = strstr(slow, "stage work image 100 400");
    assert_non_null(st);
    memcpy(st, "stage work image 200 800", strlen("stage work image 200 800"));
    write_file("slow", slow);
    run((const char *const[]){"run", "exp.yaml", "--db", "set.db", "--replications", "1", "--set",
                              "policies[2].config.pods=1", "--set", "workload.rate_scale=0.5",
                              "--profile", "slow", NULL},
        &r);
    if (r.code != 0)
        fail_msg("run with --set: exit %d: %s", r.code, r.err);
    has(&r, "profile", "/slow (test card, seed)");
    /* entry three now runs one pod: its GPU-hours are those of entry one (10 min: 0.17) */
    const char *three = strstr(r.out, "\nthree ");
    const char *one = strstr(r.out, "\none ");
    assert_non_null(three);
    assert_non_null(one);
    if (!strstr(three, "0.17") || !strstr(one, "0.17"))
        fail_msg("--set did not reach the entries:\n%s", r.out);
}

static void test_cluster_start_note(void **state)
{
    (void)state;
    write_file("prof", PROFILE);
    write_experiment("exp.yaml", "");
    ran r;
    run((const char *const[]){"run", "exp.yaml", "--db", "note.db", "--replications", "1", NULL},
        &r);
    assert_int_equal(r.code, 0);
    has(&r, "note",
        "note: pods start in 2.0 s: the profile has only the GPU process's part of "
        "a pod start");
    has(&r, "note", "this experiment adds none");
    run(
        (const char *const[]){
            "run", "exp.yaml", "--db", "note2.db", "--replications", "1", "--set",
            "cluster.pod_start_phases=[\"image_pull normal 12 3 pod cached_skip\"]", NULL},
        &r);
    assert_int_equal(r.code, 0);
    if (strstr(r.out, "note:"))
        fail_msg("a note although the experiment adds the cluster's part:\n%s", r.out);
    run((const char *const[]){"profile", "check", "prof", NULL}, &r);
    assert_int_equal(r.code, 0);
    has(&r, "profile check", "  note: pods start in 2.0 s");
}

/* A rerun resumes only when every input is the same: editing the trace or the profile
 * simulates again (the identity used to cover the YAML and the profile, not the trace). */
static void test_resume_identity(void **state)
{
    (void)state;
    write_file("prof", PROFILE);
    write_file("t.csv", "t_s\n0\n1\n2\n3\n4\n5\n");
    write_file("tr.yaml", "name: tr\nprofile: prof\nreplications: 1\n"
                          "workload: {type: trace, path: t.csv, time_column: t_s}\n"
                          "cluster: {max_pods: 1, concurrency: 1}\n"
                          "policies:\n  - {label: one, policy: static, config: {pods: 1}}\n"
                          "output: {db: tr.db}\n");
    ran r;
    run((const char *const[]){"run", "tr.yaml", NULL}, &r);
    assert_int_equal(r.code, 0);
    has(&r, "first", "(0 resumed");
    run((const char *const[]){"run", "tr.yaml", NULL}, &r);
    has(&r, "same inputs", "(1 resumed");
    /* the trace's content changed, not its name: simulated again, with its new figures */
    write_file("t.csv", "t_s\n0\n1\n2\n3\n4\n5\n6\n7\n");
    run((const char *const[]){"run", "tr.yaml", "--csv", "tr.csv", NULL}, &r);
    assert_int_equal(r.code, 0);
    has(&r, "new trace", "(0 resumed");
    char p[512];
    snprintf(p, sizeof(p), "%s/tr.csv", dir);
    char *csv = tu_slurp(p);
    assert_non_null(csv);
    if (!strstr(csv, ",8,8,")) /* arrived, completed */
        fail_msg("the rerun did not report the new trace's 8 requests:\n%s", csv);
    free(csv);
    run((const char *const[]){"run", "tr.yaml", NULL}, &r);
    has(&r, "unchanged again", "(1 resumed");
    /* the profile changed */
    char edited[1024];
    snprintf(edited, sizeof(edited), "%s# an edit\n", PROFILE);
    write_file("prof", edited);
    run((const char *const[]){"run", "tr.yaml", NULL}, &r);
    has(&r, "new profile", "(0 resumed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_winner_export),
        cmocka_unit_test(test_set_and_profile),
        cmocka_unit_test(test_cluster_start_note),
        cmocka_unit_test(test_resume_identity),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
