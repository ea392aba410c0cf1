/* wprofile.c: `gpenlab-worker profile` (see wprofile.h). */
#include "worker/wprofile.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/opts.h"
#include "profile/profile.h"
#include "worker/arrivals.h"
#include "worker/queue.h"
#include "worker/stage.h"
#include "worker/wprofile_procs.h"

#define MAX_PH 12

typedef struct phases {
    int n;
    char name[MAX_PH][32];
    double ms[MAX_PH];
} phases;

static void on_phase(void *ctx, const char *name, double ms)
{
    phases *p = ctx;
    if (p->n < MAX_PH) {
        snprintf(p->name[p->n], sizeof(p->name[0]), "%s", name);
        p->ms[p->n++] = ms;
    }
    fprintf(stderr, "profile: phase %s %.1f ms\n", name, ms);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct eff_job {
    stage *st;
    int slot, reps;
    int rc;
} eff_job;

static void *eff_thread(void *arg)
{
    eff_job *j = arg;
    int w, h;
    queue_image_dims(2.0, &w, &h);
    for (int k = 0; k < j->reps && j->rc == 0; k++) {
        stage_result r;
        gp_error err;
        j->rc = stage_run(j->st, j->slot, w, h, 1, &r, &err);
    }
    return NULL;
}

void wprofile_opts_default(wprofile_opts *o)
{
    memset(o, 0, sizeof(*o));
    stage_opts_default(&o->so);
    o->so.slots = 4;
    o->reps = 5;
}

int worker_profile(const wprofile_opts *o)
{
    const int slots = o->so.slots, reps = o->reps, processes = o->processes;
    const char *out = o->out_path, *mix_path = o->mix_path;
    const double spawn_ms = o->process_start_ms;
    phases ph = {0};
    stage_opts so = o->so;
    gp_error err;
    gp_error_clear(&err);
    /* the multi-process measurements first: this process must not hold a device context
     * when it forks the workers */
    procs_result pr = {0};
    if (processes > 0) {
        so.slots = 1; /* this process only measures the per-request grid */
        stage_opts po = so;
        /* the mp and faces columns of an arrivals CSV (worker/arrivals.h) */
        arrivals mf = {0};
        if (mix_path && arrivals_read(mix_path, false, 200, 1000000, &mf, &err) < 0) {
            return cli_report(stderr, "gpenlab-worker profile", &err, 1);
        }
        double *mix_mp = mf.n ? malloc(sizeof(double) * mf.n) : NULL;
        int *mix_faces = mf.n ? malloc(sizeof(int) * mf.n) : NULL;
        if (mf.n && (!mix_mp || !mix_faces)) {
            fprintf(stderr, "gpenlab-worker profile: out of memory\n");
            return 1;
        }
        for (size_t k = 0; k < mf.n; k++) {
            mix_mp[k] = mf.row[k].mp;
            mix_faces[k] = mf.row[k].faces;
        }
        procs_mix mix = {mix_mp, mix_faces, (int)mf.n};
        int prc =
            wprofile_measure_processes(&po, mix_path ? &mix : NULL, processes, reps * 2, &pr, &err);
        arrivals_free(&mf);
        free(mix_mp);
        free(mix_faces);
        if (prc < 0) {
            return cli_report(stderr, "gpenlab-worker profile", &err, 1);
        }
    }
    so.phase = on_phase;
    so.phase_ctx = &ph;
    stage *st;
    if (stage_open(&so, &st, &err) < 0) {
        return cli_report(stderr, "gpenlab-worker profile", &err, 1);
    }
    static const double grid[] = {0.5, 1, 2, 4, 8, 12, 16, 24};
    static const int faces[] = {0, 1, 2, 4};
    enum { NG = 8, NF = 4 };
    gpu_profile *p = calloc(1, sizeof(*p));
    double *t = calloc((size_t)NG * NF * 50, sizeof(double));
    int rc = p && t ? 0 : 1;
    int nj = 0;
    for (int g = 0; g < NG && rc == 0; g++) {
        int w, h;
        queue_image_dims(grid[g], &w, &h);
        double med[NF];
        for (int fi = 0; fi < NF && rc == 0; fi++) {
            stage_result r;
            double *v = t + ((size_t)g * NF + (size_t)fi) * 50;
            if (stage_run(st, 0, w, h, faces[fi], &r, &err) < 0) /* warm-up of this size */
                rc = 1;
            for (int k = 0; k < reps && rc == 0; k++) {
                double t0 = now_ms();
                if (stage_run(st, 0, w, h, faces[fi], &r, &err) < 0)
                    rc = 1;
                v[k] = now_ms() - t0;
            }
            double tmp[50];
            memcpy(tmp, v, sizeof(double) * (size_t)reps);
            med[fi] = median(tmp, reps);
            for (int k = 0; k < reps && nj < PROFILE_MAX_JITTER && med[fi] > 0; k++)
                p->jitter_samples[nj++] = v[k] / med[fi];
            fprintf(stderr, "profile: %4.1f MP %d faces: %.3f ms\n", grid[g], faces[fi], med[fi]);
        }
        if (rc)
            break;
        /* image stage = no-face time; face stage = least-squares slope over faces */
        double sxy = 0, sxx = 0;
        for (int fi = 1; fi < NF; fi++) {
            sxy += faces[fi] * (med[fi] - med[0]);
            sxx += (double)faces[fi] * faces[fi];
        }
        p->stage[0].ms[g] = med[0];
        p->stage[1].ms[g] = sxy / sxx > 0 ? sxy / sxx : 0;
    }
    if (rc) {
        cli_report(stderr, "gpenlab-worker profile", &err, 1);
        stage_close(st);
        free(p);
        free(t);
        return 1;
    }
    /* eff(n): n slots serving 2 MP / 1 face requests at once */
    double thr1 = 0;
    p->n_eff = processes > 0 ? 0 : slots; /* with --processes: eff from the processes below */
    for (int n = 1; n <= p->n_eff; n++) {
        eff_job jobs[16];
        pthread_t th[16];
        int per = reps * 2;
        double t0 = now_ms();
        for (int i = 0; i < n; i++) {
            jobs[i] = (eff_job){st, i, per, 0};
            pthread_create(&th[i], NULL, eff_thread, &jobs[i]);
        }
        for (int i = 0; i < n; i++)
            pthread_join(th[i], NULL);
        double thr = n * per / (now_ms() - t0);
        if (n == 1)
            thr1 = thr;
        /* at most n: timing noise must not write a profile the reader refuses (eff(n) > n) */
        p->eff[n - 1] = n == 1 ? 1.0 : fmin(thr / thr1, n);
        fprintf(stderr, "profile: eff(%d) = %.3f\n", n, p->eff[n - 1]);
    }
    double used, total;
    stage_mem(st, &used, &total);
    snprintf(p->card, sizeof(p->card), "%s (gpenlab-worker %s stage)", stage_device(st),
             stage_backend(st));
    snprintf(p->provenance, sizeof(p->provenance), "measured");
    time_t now = time(NULL);
    char date[40];
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
    snprintf(p->source, sizeof(p->source),
             "measured by gpenlab-worker profile on %s: backend %s, %d slots, %d reps%s\n"
             "one image stage (the no-face time) and one face stage (least-squares slope over 1, "
             "2, 4 faces)",
             date, stage_backend(st), so.slots, reps,
             strcmp(stage_backend(st), "cpu") == 0 ? ", CPU reference on tiny inputs (not a GPU)"
                                                   : "");
    p->n_grid = NG;
    memcpy(p->mp_grid, grid, sizeof(grid));
    p->n_stages = 2;
    snprintf(p->stage[0].name, sizeof(p->stage[0].name), "image");
    p->stage[0].scaling = STAGE_PER_IMAGE;
    snprintf(p->stage[1].name, sizeof(p->stage[1].name), "face");
    p->stage[1].scaling = STAGE_PER_FACE;
    p->jitter = JITTER_SAMPLES;
    p->n_jitter_samples = nj;
    p->gpu_mem_bytes = total * 1048576.0;
    p->model_mem_bytes = used * 1048576.0;
    for (int g = 0; g < NG; g++)
        p->req_mem_bytes[g] = grid[g] * 1e6 * 12.0; /* the cpu stage's accounting */
    p->req_mem_per_face_bytes = 8.0 * 1048576.0;
    /* cold phases as this process saw them (plus the caller's process start) */
    p->n_phases = 0;
    if (spawn_ms > 0) {
        snprintf(p->phase[0].name, sizeof(p->phase[0].name), "process_start");
        p->phase[0].seconds = (dist_spec){DIST_CONST, spawn_ms / 1e3, 0};
        p->phase[0].applies = PHASE_POD | PHASE_SERVERLESS;
        p->n_phases = 1;
    }
    for (int i = 0; i < ph.n && p->n_phases < PROFILE_MAX_PHASES; i++) {
        profile_phase *q = &p->phase[p->n_phases++];
        snprintf(q->name, sizeof(q->name), "%s", ph.name[i]);
        q->seconds = (dist_spec){DIST_CONST, ph.ms[i] / 1e3, 0};
        q->applies = PHASE_POD | PHASE_SERVERLESS;
    }
    if (processes > 0) {
        /* the live setting: one single-slot process per pod on the device */
        p->n_eff = pr.n;
        memcpy(p->eff, pr.eff, sizeof(double) * (size_t)pr.n);
        p->model_mem_bytes = pr.mem_per_proc_mib * 1048576.0;
        p->n_phases = spawn_ms > 0 ? 1 : 0;
        for (int i = 0; i < pr.n_phases && p->n_phases < PROFILE_MAX_PHASES; i++) {
            profile_phase *q = &p->phase[p->n_phases++];
            snprintf(q->name, sizeof(q->name), "%s", pr.phase_name[i]);
            q->seconds =
                pr.phase_ms_sd[i] > 0
                    ? (dist_spec){DIST_NORMAL, pr.phase_ms_mean[i] / 1e3, pr.phase_ms_sd[i] / 1e3}
                    : (dist_spec){DIST_CONST, pr.phase_ms_mean[i] / 1e3, 0};
            q->applies = PHASE_POD | PHASE_SERVERLESS;
        }
        p->start_interference = pr.interference;
        size_t len = strlen(p->source);
        snprintf(p->source + len, sizeof(p->source) - len,
                 "\neff(n), model memory (%.0f MiB per process), cold phases (mean and sd of %d "
                 "starts) and "
                 "start_interference (%d requests during a start, %d outside) from %d single-slot "
                 "processes "
                 "on the device (the live pods' setting: one process per pod, no MPS); eff over %s",
                 pr.mem_per_proc_mib, pr.n, pr.interference_in, pr.interference_out, pr.n,
                 mix_path ? "the image mix of the arrivals file given" : "2 MP / 1-face requests");
    }
    p->first_request_extra_ms = 0;
    p->share_slowdown = 1;
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "gpenlab-worker profile: cannot create %s\n", out);
        rc = 1;
    } else {
        fprintf(f, "# %s: the gpenlab-worker stage, measured by `gpenlab-worker profile`.\n", out);
        if (profile_write(p, f, &err) < 0)
            rc = 1;
        if (fclose(f) != 0)
            rc = 1;
    }
    stage_close(st);
    free(p);
    free(t);
    return rc;
}
