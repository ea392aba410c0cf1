/* wopts.c: the live stack's shared option values (see wopts.h). */
#include "worker/wopts.h"

#include <stdio.h>
#include <string.h>

#include "worker/netaddr.h"

static int addr(const char *name, const char *v, int min_port, wopts_addr *a, gp_error *err)
{
    if (netaddr_parse(v, min_port, a->host, sizeof(a->host), &a->port) < 0)
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, name,
                            "expected HOST:PORT with a port in %d..65535, got \"%s\"", min_port, v);
    return 0;
}

int wopts_connect_addr(const char *name, const char *value, void *out_addr, gp_error *err)
{
    return addr(name, value, 1, out_addr, err);
}

int wopts_listen_addr(const char *name, const char *value, void *out_addr, gp_error *err)
{
    return addr(name, value, 0, out_addr, err);
}

/* A name without any of `banned` (said as `no`), into a char[WOPTS_NAME_MAX]. */
static int name_value(const char *name, const char *v, const char *banned, const char *what,
                      const char *no, char *out, gp_error *err)
{
    if (!*v || strlen(v) >= WOPTS_NAME_MAX || strpbrk(v, banned))
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, name,
                            "expected %s (1..%d characters%s), got \"%s\"", what,
                            WOPTS_NAME_MAX - 1, no, v);
    snprintf(out, WOPTS_NAME_MAX, "%s", v);
    return 0;
}

int wopts_prefix(const char *name, const char *value, void *out_name, gp_error *err)
{
    return name_value(name, value, "", "a key prefix", "", out_name, err);
}

int wopts_namespace(const char *name, const char *value, void *out_name, gp_error *err)
{
    return name_value(name, value, "\"\\{}\n", "a namespace", ", none of \" \\ { }", out_name, err);
}

int wopts_worker_id(const char *name, const char *value, void *out_name, gp_error *err)
{
    return name_value(name, value, " :\"\\{}\n", "a worker id", ", none of space : \" \\ { }",
                      out_name, err);
}
