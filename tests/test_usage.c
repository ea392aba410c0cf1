/* test_usage.c: `gpenlab CMD --help` prints that command's block of the one usage table
 * (cli/usage.h) and succeeds; `gpenlab help` holds every block; unknown words have none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/commands.h"
#include "cli/usage.h"

typedef int (*cmd_fn)(int argc, char **argv, FILE *out, gp_error *err);

static int run_self(int argc, char **argv, FILE *out, gp_error *err)
{
    return cmd_run("gpenlab", argc, argv, out, err);
}
static int profile_self(int argc, char **argv, FILE *out, gp_error *err)
{
    return cmd_profile("gpenlab", argc, argv, out, err);
}

static const struct {
    const char *word;
    cmd_fn fn;
    const char *help; /* the argument that asks for help */
} commands[] = {
    {"run", run_self, "--help"},
    {"sweep", cmd_sweep, "--help"},
    {"report", cmd_report, "-h"},
    {"regress", cmd_regress, "--help"},
    {"reproduce", cmd_reproduce, "--help"},
    {"export", cmd_export, "--help"},
    {"drive", cmd_drive, "--help"},
    {"policy", cmd_policy, "help"},
    {"profile", profile_self, "--help"},
};

static void test_each_command_prints_its_block(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const char *block = cli_usage(commands[i].word);
        if (!block)
            fail_msg("%s: no usage block", commands[i].word);
        char head[64];
        snprintf(head, sizeof(head), "  gpenlab %s", commands[i].word);
        if (strncmp(block, head, strlen(head)) != 0)
            fail_msg("%s: block starts \"%.40s\"", commands[i].word, block);
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        assert_non_null(out);
        char *argv[] = {(char *)commands[i].word, (char *)commands[i].help, NULL};
        gp_error err;
        gp_error_clear(&err);
        int rc = commands[i].fn(2, argv, out, &err);
        fclose(out);
        if (rc != 0 || err.code)
            fail_msg("%s %s: rc %d, error \"%s\"", commands[i].word, commands[i].help, rc, err.msg);
        if (strcmp(text, block) != 0)
            fail_msg("%s %s printed:\n%s\nexpected:\n%s", commands[i].word, commands[i].help, text,
                     block);
        free(text);
    }
}

static void test_help_holds_every_block(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    cli_usage_all(out, "9.9");
    fclose(out);
    assert_non_null(strstr(text, "gpenlab 9.9: "));
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strstr(text, cli_usage(commands[i].word)))
            fail_msg("gpenlab help lacks the block of %s", commands[i].word);
    assert_null(strstr(text, "%%")); /* printed as text, not as a format */
    free(text);
    assert_null(cli_usage("frobnicate"));
    assert_true(cli_is_help("-h") && cli_is_help("--help") && cli_is_help("help"));
    assert_false(cli_is_help("--helpme") || cli_is_help(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_command_prints_its_block),
        cmocka_unit_test(test_help_holds_every_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
