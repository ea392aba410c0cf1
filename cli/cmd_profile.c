/* cmd_profile.c: `gpenlab profile check FILE` (parse a GPU profile and print what it
 * implies), `profile derive --in MEASURED --from CARD [--to ...] [--outdir DIR]` (profiles
 * for other cards, scaled by datasheet ratios: derived) and `profile measure [...]` (runs
 * gpenlab-gpu profile, built apart by make gpu). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "cli/commands.h"
#include "base/opts.h"
#include "cli/usage.h"
#include "profile/profile.h"
#include "profile/profile_derive.h"

/* gpenlab profile derive --in FILE --from CARD [--to t4,l4,a10,a100] [--outdir DIR]:
 * profiles for other cards scaled from a measured one, written atomically, marked
 * derived. */
static int cmd_profile_derive(int argc, char **argv, FILE *out, gp_error *err)
{
    const char *in = NULL, *from = NULL, *to = "t4,l4,a10,a100", *outdir = "gpu/profiles";
    const cli_opt opts[] = {
        {"--in", NULL, CLI_STR, &in, 0, 0, NULL}, {"--from", NULL, CLI_STR, &from, 0, 0, NULL},
        {"--to", NULL, CLI_STR, &to, 0, 0, NULL}, {"--outdir", NULL, CLI_STR, &outdir, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts, .unknown = "unknown option", .help = cli_usage("profile")};
    int rc = cli_parse(argc, argv, &spec, out, err);
    if (rc != 0) /* 1: the help was printed */
        return rc < 0 ? rc : 0;
    if (!in || !from)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL,
                            "usage: gpenlab profile derive --in MEASURED --from CARD "
                            "[--to t4,l4,a10,a100] [--outdir DIR]");
    const gpu_card_spec *fc = gpu_card_find(from);
    if (!fc)
        return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, "--from", "unknown card \"%s\"", from);
    gpu_profile *src = malloc(sizeof(*src)), *dst = malloc(sizeof(*dst));
    rc = src && dst ? profile_load(in, src, err) : gp_oom(err);
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
        fprintf(f,
                "# %s-derived: DERIVED from %s (%s) by `gpenlab profile derive`: not\n"
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
        fprintf(out, "wrote %s (%s, derived; 2 MP with 1 face: %.1f ms)\n", path, dst->card,
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
        return gp_oom(err);
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

int cmd_profile(const char *self, int argc, char **argv, FILE *out, gp_error *err)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(cli_usage("profile"), out);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "derive") == 0)
        return cmd_profile_derive(argc - 1, argv + 1, out, err);
    if (argc >= 2 && strcmp(argv[1], "measure") == 0)
        return cmd_profile_measure(self, argc - 1, argv + 1, err);
    if (argc < 3 || strcmp(argv[1], "check") != 0)
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, NULL,
                            "usage: gpenlab profile check FILE | measure [gpenlab-gpu options] | "
                            "derive --in FILE --from CARD");
    gpu_profile *p = malloc(sizeof(*p));
    if (!p)
        return gp_oom(err);
    int rc = profile_load(argv[2], p, err);
    if (rc == 0) {
        fprintf(out, "%s: %s, %s\n", argv[2], p->card, p->provenance);
        fprintf(out, "  demand (s) by megapixels x faces:\n  %8s", "mp");
        static const int faces[] = {0, 1, 2, 4, 8};
        for (int f = 0; f < 5; f++)
            fprintf(out, " %8d", faces[f]);
        fprintf(out, "\n");
        for (int g = 0; g < p->n_grid; g++) {
            fprintf(out, "  %8.2f", p->mp_grid[g]);
            for (int f = 0; f < 5; f++)
                fprintf(out, " %8.3f", profile_demand_us(p, p->mp_grid[g], faces[f]) / 1e6);
            fprintf(out, "\n");
        }
        fprintf(out, "  eff(n):");
        for (int n = 1; n <= 8; n++)
            fprintf(out, " %.2f", profile_eff(p, n));
        double pod_s = profile_mean_start_s(p, PHASE_POD);
        double sl_s = profile_mean_start_s(p, PHASE_SERVERLESS);
        fprintf(out, "\n  memory: card %.0f MiB, model %.0f MiB, 2 MP request %.0f MiB\n",
                p->gpu_mem_bytes / 1048576, p->model_mem_bytes / 1048576,
                profile_req_mem_bytes(p, 2, 1) / 1048576);
        fprintf(out, "  mean cold start: pod %.1f s, serverless instance %.1f s\n", pod_s, sl_s);
        if (!profile_has_cluster_start(p)) {
            char note[400];
            profile_cluster_start_note(p, note, sizeof(note));
            fprintf(out, "  note: %s\n", note);
        }
        int drop = profile_eff_first_drop(p);
        if (drop)
            fprintf(stderr,
                    "warning: %s: the throughput eff(n) falls from n = %d to %d (%.3g -> %.3g): "
                    "more concurrency would serve less; check the measurement\n",
                    argv[2], drop - 1, drop, profile_eff(p, drop - 1), profile_eff(p, drop));
    }
    free(p);
    return rc;
}
