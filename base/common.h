/* common.h: the few macros every layer shares, defined once here instead of file by file.
 * - Time units: simulated and configured times are int64 microseconds; these are the
 *   factors between them and larger units (int64 constants: in double arithmetic they
 *   convert exactly).
 * - TRY(x): evaluate x (an int: 0 or a negative GP_E* code); return the code if < 0.
 * - gp_oom(err): record "out of memory" (GP_ENOMEM) in err and return the code.
 * - GPENLAB_VERSION. */
#ifndef GP_COMMON_H
#define GP_COMMON_H

#include <stdint.h>

#include "base/error.h"

/* gpenlab's version: printed by `gpenlab version`, stored with every experiment in a
 * results database and part of a run's identity (a rerun by another version simulates
 * again). Defined here only. */
#define GPENLAB_VERSION "0.1.0"

#define US_PER_MS  INT64_C(1000)
#define US_PER_S   INT64_C(1000000)
#define US_PER_MIN (60 * US_PER_S)
#define US_PER_H   (3600 * US_PER_S)
#define US_PER_DAY (86400 * US_PER_S)

/* The same tokens as the copies this replaced, so a copy still arriving in a merge
 * compiles (an identical redefinition is allowed) until it is removed. */
#define TRY(x)          \
    do {                \
        int rc_ = (x);  \
        if (rc_ < 0)    \
            return rc_; \
    } while (0)

static inline int gp_oom(gp_error *err)
{
    return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
}

#endif
