/* main.c: the gpenlab command line. The only place that prints errors and exits:
 * every library call returns a GP_E* code and a gp_error, printed here as one line
 * "gpenlab: FILE:LINE:COL: FIELD: message". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "base/error.h"
#include "cli/trace_cmd.h"
#include "drive/drive.h"
#include "lab/experiment.h"
#include "lab/export.h"
#include "lab/html_report.h"
#include "lab/lab.h"
#include "lab/regress.h"
#include "lab/reproduce.h"
#include "lab/sweep.h"
#include "policy/replay.h"
#include "profile/profile.h"
#include "profile/profile_derive.h"


/* Set by SIGINT/SIGTERM: `run` stops between runs (each run is atomic in the database).
 * The one piece of mutable file-scope state, as a signal handler needs. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "gpenlab %s: which autoscaling policy, with which settings, for a GPU inference service\n"
            "\n"
            "usage:\n"
            "  gpenlab run FILE.yaml [--db PATH] [--csv PATH] [--replications N] [--seed N]\n"
            "                        [--requests] [--quiet]\n"
            "      run an experiment: every policy x replication, a comparison table with 95%%\n"
            "      confidence intervals, every run in SQLite (reruns resume), optional CSV\n"
            "  gpenlab trace stats FILE [--time-col C] [--plot OUT.png] ...\n"
            "      span, count, mean/peak rate, CV and hour-of-day profile of a trace\n"
            "  gpenlab policy replay POLICY METRICS.csv [--config FILE.yaml]\n"
            "      feed recorded observations to a policy; print each decision and why\n"
            "  gpenlab policy list\n"
            "  gpenlab profile check FILE      parse a GPU profile and print what it implies\n"
            "  gpenlab profile measure [...]   measure this machine's GPU (runs gpenlab-gpu profile)\n"
            "  gpenlab profile derive --in MEASURED --from CARD [--to t4,l4,a10,a100] [--outdir D]\n"
            "      profiles for other cards, scaled by datasheet compute and bandwidth: derived\n"
            "  gpenlab export --policy LABEL --from DB|FILE.yaml [--out DIR] | --import DIR\n"
            "      Kubernetes manifests for one policy (HPA, ScaledObject, Knative, driver config)\n"
            "  gpenlab drive CONFIG.yaml [--dry-run] [--once | --ticks N]\n"
            "      run a policy against live Prometheus/Redis metrics and the scale subresource\n"
            "  gpenlab reproduce [--dir EXPERIMENTS] [--db PATH] [--profile FILE] [--replications N]\n"
            "      rerun the seed article's two tables; article vs gpenlab (95%% CI) per row\n"
            "  gpenlab report DB [-o OUT.html] [--assets DIR] [--title T]\n"
            "      one self-contained HTML page: tables and gnuplot pictures (inline SVG)\n"
            "  gpenlab regress [--dir experiments/baselines] [--update]\n"
            "      canonical experiments against their baselines; fails when P99, SLO or GPU-h\n"
            "      got worse beyond the replication noise (paired); --update rewrites them\n"
            "  gpenlab sweep FILE.yaml [-j N] [--db PATH] [--csv PATH] [--plot PREFIX] [--report-only]\n"
            "      grid or Latin-hypercube sweep, paired replications, resumable; the winner\n"
            "      with its paired CI and the Pareto front (mpirun -np N gpenlab-mpi sweep ...)\n"
            "  gpenlab version | help\n",
            GPENLAB_VERSION);
}

static int fail(const gp_error *err)
{
    char buf[1200];
    gp_error_format(err, buf, sizeof(buf));
    fprintf(stderr, "gpenlab: %s\n", buf);
    return err->code == GP_EINTERRUPTED ? 130 : 1;
}

static int parse_long(const char *flag, const char *s, long lo, long hi, long *out, gp_error *err)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, flag, "expected an integer in [%ld, %ld], got \"%s\"",
                            lo, hi, s);
    *out = v;
    return 0;
}

static int cmd_run(const char *program, int argc, char **argv, gp_error *err)
{
    lab_opts o;
    lab_opts_default(&o);
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        long v;
        if (strcmp(a, "--db") == 0 && next) {
            o.db_path = next;
            i++;
        } else if (strcmp(a, "--csv") == 0 && next) {
            o.csv_path = next;
            i++;
        } else if (strcmp(a, "--replications") == 0 && next) {
            if (parse_long(a, next, 1, EXPERIMENT_MAX_REPLICATIONS, &v, err) < 0)
                return err->code;
            o.replications = (int)v;
            i++;
        } else if (strcmp(a, "--seed") == 0 && next) {
            if (parse_long(a, next, 0, 0x7fffffffL, &v, err) < 0)
                return err->code;
            o.seed = v;
            i++;
        } else if ((strcmp(a, "--jobs") == 0 || strcmp(a, "-j") == 0) && next) {
            if (parse_long(a, next, 1, 64, &v, err) < 0)
                return err->code;
            o.jobs = (int)v;
            i++;
        } else if (strcmp(a, "--requests") == 0) {
            o.record_requests = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            o.quiet = true;
        } else if (a[0] == '-') {
            return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, a, "unknown option (see gpenlab help)");
        } else if (!path) {
            path = a;
        } else {
            return gp_error_set(err, GP_EPARSE, NULL, 0, 0, NULL, "one experiment file at a time");
        }
    }
    if (!path)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "usage: gpenlab run FILE.yaml");
    experiment *e;
    int rc = experiment_load(path, &e, err);
    if (rc < 0)
        return rc;
    o.progress = !o.quiet && isatty(STDERR_FILENO);
    o.program = program;
    o.warn = stderr;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o.stop = &stop_requested;
    rc = lab_run(e, &o, stdout, err);
    experiment_free(e);
    return rc;
}

static int cmd_reproduce(int argc, char **argv, gp_error *err)
{
    reproduce_opts o;
    reproduce_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        long v;
        if (strcmp(a, "--dir") == 0 && next)
            o.exp_dir = argv[++i];
        else if (strcmp(a, "--db") == 0 && next)
            o.db_path = argv[++i];
        else if (strcmp(a, "--profile") == 0 && next)
            o.profile_path = argv[++i];
        else if (strcmp(a, "--replications") == 0 && next) {
            if (parse_long(a, next, 1, EXPERIMENT_MAX_REPLICATIONS, &v, err) < 0)
                return err->code;
            o.replications = (int)v;
            i++;
        } else
            return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, a, "unknown option (see gpenlab help)");
    }
    o.progress = isatty(STDERR_FILENO);
    return reproduce_run(&o, stdout, err);
}

static int cmd_report(int argc, char **argv, gp_error *err)
{
    html_report_opts o = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0) && i + 1 < argc)
            o.out_path = argv[++i];
        else if (strcmp(a, "--assets") == 0 && i + 1 < argc)
            o.assets_dir = argv[++i];
        else if (strcmp(a, "--title") == 0 && i + 1 < argc)
            o.title = argv[++i];
        else if (a[0] == '-')
            return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, a, "unknown option (see gpenlab help)");
        else if (!o.db_path)
            o.db_path = a;
        else
            return gp_error_set(err, GP_EPARSE, NULL, 0, 0, NULL, "one database at a time");
    }
    if (!o.db_path)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "usage: gpenlab report DB [-o OUT.html]");
    if (access(o.db_path, R_OK) != 0)
        return gp_error_set(err, GP_EMISSING, o.db_path, 0, 0, NULL, "no such database");
    char out[1100];
    if (!o.out_path) {
        snprintf(out, sizeof(out), "%.*s.html", (int)strcspn(o.db_path, "."), o.db_path);
        o.out_path = out;
    }
    int pictures = 0;
    int rc = html_report_write(&o, &pictures, err);
    if (rc == 0)
        printf("report %s: %d pictures\n", o.out_path, pictures);
    return rc;
}

static int cmd_regress(int argc, char **argv, gp_error *err)
{
    regress_opts o = {.dir = "experiments/baselines"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            o.dir = argv[++i];
        else if (strcmp(argv[i], "--update") == 0)
            o.update = true;
        else
            return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, argv[i], "unknown option (see gpenlab help)");
    }
    int worse = 0;
    int rc = regress_run(&o, stdout, &worse, err);
    if (rc == 0 && worse > 0)
        return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, NULL,
                            "%d figure(s) got worse than the baselines (if intended: make "
                            "regress-update and commit the diff)", worse);
    return rc;
}

#ifdef GPENLAB_MPI
int sweep_mpi_run(const sweep *sw, sweep_run_stats *st, int *is_root, gp_error *err);
#endif

static int cmd_sweep(int argc, char **argv, gp_error *err)
{
    const char *path = NULL, *db = NULL, *csv = NULL, *plot = NULL;
    long jobs = 1;
    bool report_only = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-j") == 0 && next) {
            if (parse_long(a, next, 1, 256, &jobs, err) < 0)
                return err->code;
            i++;
        } else if (strncmp(a, "-j", 2) == 0 && a[2]) {
            if (parse_long("-j", a + 2, 1, 256, &jobs, err) < 0)
                return err->code;
        } else if (strcmp(a, "--db") == 0 && next)
            db = argv[++i];
        else if (strcmp(a, "--csv") == 0 && next)
            csv = argv[++i];
        else if (strcmp(a, "--plot") == 0 && next)
            plot = argv[++i];
        else if (strcmp(a, "--report-only") == 0)
            report_only = true;
        else if (a[0] == '-')
            return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, a, "unknown option (see gpenlab help)");
        else if (!path)
            path = a;
        else
            return gp_error_set(err, GP_EPARSE, NULL, 0, 0, NULL, "one sweep file at a time");
    }
    if (!path)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "usage: gpenlab sweep FILE.yaml");
    sweep *sw;
    int rc = sweep_load(path, &sw, err);
    if (rc < 0)
        return rc;
    if (db)
        sweep_set_db_path(sw, db);
    char csv_default[1100], plot_default[1100], dir[1024];
    snprintf(dir, sizeof(dir), "%s", sweep_db_path(sw));
    char *slash = strrchr(dir, '/');
    snprintf(slash ? slash + 1 : dir, sizeof(dir) - (size_t)(slash ? slash + 1 - dir : 0), "%s",
             "");
    snprintf(csv_default, sizeof(csv_default), "%s%s.csv", dir, sweep_name(sw));
    snprintf(plot_default, sizeof(plot_default), "%s%s-pareto", dir, sweep_name(sw));
    sweep_run_stats st = {0};
    int is_root = 1;
    if (!report_only) {
#ifdef GPENLAB_MPI
        rc = sweep_mpi_run(sw, &st, &is_root, err);
#else
        rc = sweep_run_local(sw, (int)jobs, NULL, &st, err);
#endif
        if (rc == 0 && is_root)
            printf("sweep %s: %zu units (%zu points x %d replications): %zu run, %zu resumed "
                   "from %s\n",
                   sweep_name(sw), st.units, sweep_n_points(sw), sweep_replications(sw), st.ran,
                   st.resumed, sweep_db_path(sw));
    }
    if (rc == 0 && is_root)
        rc = sweep_report(sw, stdout, csv ? csv : csv_default, plot ? plot : plot_default, err);
    sweep_free(sw);
    return rc;
}

/* gpenlab profile derive --in FILE --from CARD [--to t4,l4,a10,a100] [--outdir DIR]:
 * profiles for other cards scaled from a measured one, written atomically, marked
 * derived. */
static int cmd_profile_derive(int argc, char **argv, gp_error *err)
{
    const char *in = NULL, *from = NULL, *to = "t4,l4,a10,a100", *outdir = "gpu/profiles";
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!next)
            return gp_error_set(err, GP_EPARSE, NULL, 0, 0, argv[i], "option needs a value");
        if (strcmp(argv[i], "--in") == 0)
            in = next;
        else if (strcmp(argv[i], "--from") == 0)
            from = next;
        else if (strcmp(argv[i], "--to") == 0)
            to = next;
        else if (strcmp(argv[i], "--outdir") == 0)
            outdir = next;
        else
            return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, argv[i], "unknown option");
        i++;
    }
    if (!in || !from)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL,
                            "usage: gpenlab profile derive --in MEASURED --from CARD "
                            "[--to t4,l4,a10,a100] [--outdir DIR]");
    const gpu_card_spec *fc = gpu_card_find(from);
    if (!fc)
        return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, "--from", "unknown card \"%s\"", from);
    gpu_profile *src = malloc(sizeof(*src)), *dst = malloc(sizeof(*dst));
    int rc = src && dst ? profile_load(in, src, err)
                        : gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    char list[256];
    snprintf(list, sizeof(list), "%s", to);
    char *save = NULL;
    for (char *k = strtok_r(list, ",", &save); rc == 0 && k; k = strtok_r(NULL, ",", &save)) {
        const gpu_card_spec *tc = gpu_card_find(k);
        if (!tc) {
            rc = gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, "--to", "unknown card \"%s\"", k);
            break;
        }
        rc = profile_derive(src, fc, tc, dst, err);
        if (rc < 0)
            break;
        char path[768], tmp[800];
        snprintf(path, sizeof(path), "%s/%s-derived", outdir, k);
        snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
        FILE *f = fopen(tmp, "w");
        if (!f) {
            rc = gp_error_set(err, GP_EIO, tmp, 0, 0, NULL, "cannot create");
            break;
        }
        fprintf(f, "# %s-derived: DERIVED from %s (%s) by `gpenlab profile derive`: not\n"
                   "# measured on this card; stage times scaled by datasheet ratios.\n",
                k, in, src->card);
        rc = profile_write(dst, f, err);
        if (fflush(f) != 0 || fsync(fileno(f)) != 0)
            rc = rc ? rc : gp_error_set(err, GP_EIO, tmp, 0, 0, NULL, "write error");
        fclose(f);
        if (rc == 0 && rename(tmp, path) != 0)
            rc = gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot rename into place");
        if (rc < 0) {
            unlink(tmp);
            break;
        }
        printf("wrote %s (%s, derived; 2 MP with 1 face: %.1f ms)\n", path, dst->card,
               profile_demand_us(dst, 2, 1) / 1e3);
    }
    free(src);
    free(dst);
    return rc;
}

/* gpenlab profile measure ...: runs the CUDA profiler (gpenlab-gpu profile), which is
 * built apart (make gpu) because it needs only CUDA and libjpeg. */
static int cmd_profile_measure(const char *self, int argc, char **argv, gp_error *err)
{
    char path[1024];
    const char *slash = strrchr(self, '/');
    const char *candidates[3] = {NULL, "build/gpenlab-gpu", "gpenlab-gpu"};
    if (slash) {
        snprintf(path, sizeof(path), "%.*s/gpenlab-gpu", (int)(slash - self), self);
        candidates[0] = path;
    }
    char **args = calloc((size_t)argc + 2, sizeof(char *));
    if (!args)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    args[1] = "profile";
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    for (int c = 0; c < 3; c++) {
        if (!candidates[c] || (strchr(candidates[c], '/') && access(candidates[c], X_OK) != 0))
            continue;
        args[0] = (char *)candidates[c];
        execvp(candidates[c], args);
    }
    free(args);
    return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, NULL,
                        "gpenlab-gpu not found: build it with `make gpu` on a machine with the "
                        "CUDA toolkit (it measures on the local GPU)");
}

static int cmd_profile(const char *self, int argc, char **argv, gp_error *err)
{
    if (argc >= 2 && strcmp(argv[1], "derive") == 0)
        return cmd_profile_derive(argc - 1, argv + 1, err);
    if (argc >= 2 && strcmp(argv[1], "measure") == 0)
        return cmd_profile_measure(self, argc - 1, argv + 1, err);
    if (argc < 3 || strcmp(argv[1], "check") != 0)
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, NULL,
                            "usage: gpenlab profile check FILE | measure [gpenlab-gpu options] | "
                            "derive --in FILE --from CARD");
    gpu_profile *p = malloc(sizeof(*p));
    if (!p)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    int rc = profile_load(argv[2], p, err);
    if (rc == 0) {
        printf("%s: %s, %s\n", argv[2], p->card, p->provenance);
        printf("  demand (s) by megapixels x faces:\n  %8s", "mp");
        static const int faces[] = {0, 1, 2, 4, 8};
        for (int f = 0; f < 5; f++)
            printf(" %8d", faces[f]);
        printf("\n");
        for (int g = 0; g < p->n_grid; g++) {
            printf("  %8.2f", p->mp_grid[g]);
            for (int f = 0; f < 5; f++)
                printf(" %8.3f", profile_demand_us(p, p->mp_grid[g], faces[f]) / 1e6);
            printf("\n");
        }
        printf("  eff(n):");
        for (int n = 1; n <= 8; n++)
            printf(" %.2f", profile_eff(p, n));
        double pod_s = 0, sl_s = 0;
        for (int i = 0; i < p->n_phases; i++) {
            if (p->phase[i].applies & PHASE_POD)
                pod_s += dist_mean(&p->phase[i].seconds);
            if (p->phase[i].applies & PHASE_SERVERLESS)
                sl_s += dist_mean(&p->phase[i].seconds);
        }
        printf("\n  memory: card %.0f MiB, model %.0f MiB, 2 MP request %.0f MiB\n",
               p->gpu_mem_bytes / 1048576, p->model_mem_bytes / 1048576,
               profile_req_mem_bytes(p, 2, 1) / 1048576);
        printf("  mean cold start: pod %.1f s, serverless instance %.1f s\n", pod_s, sl_s);
    }
    free(p);
    return rc;
}

static int cmd_policy(int argc, char **argv, gp_error *err)
{
    if (argc >= 2 && strcmp(argv[1], "list") == 0) {
        const policy_ops *const *all = policy_all();
        for (size_t i = 0; all[i]; i++)
            printf("%-12s %s\n", all[i]->name, all[i]->summary);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        return policy_replay_main(argc - 1, argv + 1, stdout, err);
    return gp_error_set(err, GP_EPARSE, NULL, 0, 0, NULL,
                        "usage: gpenlab policy replay POLICY METRICS.csv | gpenlab policy list");
}

int main(int argc, char **argv)
{
    gp_error err;
    gp_error_clear(&err);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    int rc;
    if (strcmp(cmd, "run") == 0)
        rc = cmd_run(argv[0], argc - 1, argv + 1, &err);
    else if (strcmp(cmd, "trace") == 0)
        rc = argc >= 3 ? trace_cmd_main(argc - 2, argv + 2, stdout, &err)
                       : gp_error_set(&err, GP_EPARSE, NULL, 0, 0, NULL, "usage: gpenlab trace stats FILE");
    else if (strcmp(cmd, "policy") == 0)
        rc = cmd_policy(argc - 1, argv + 1, &err);
    else if (strcmp(cmd, "profile") == 0)
        rc = cmd_profile(argv[0], argc - 1, argv + 1, &err);
    else if (strcmp(cmd, "export") == 0)
        rc = export_main(argc - 1, argv + 1, stdout, &err);
    else if (strcmp(cmd, "drive") == 0)
        rc = drive_main(argc - 1, argv + 1, stdout, &err);
    else if (strcmp(cmd, "report") == 0)
        rc = cmd_report(argc - 1, argv + 1, &err);
    else if (strcmp(cmd, "regress") == 0)
        rc = cmd_regress(argc - 1, argv + 1, &err);
    else if (strcmp(cmd, "sweep") == 0)
        rc = cmd_sweep(argc - 1, argv + 1, &err);
    else if (strcmp(cmd, "reproduce") == 0)
        rc = cmd_reproduce(argc - 1, argv + 1, &err);
    else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("gpenlab %s\n", GPENLAB_VERSION);
        return 0;
    } else if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    } else {
        fprintf(stderr, "gpenlab: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return 2;
    }
    if (rc < 0 || err.code)
        return fail(&err);
    return 0;
}
