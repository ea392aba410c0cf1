/* trace_checks.c: range checks shared by the trace sources (scales, spans) and the
 * seconds-to-microseconds conversion they all use. */
#include <math.h>

#include "traces/trace_internal.h"

int trace_check_scale(const char *file, const char *field, double v, gp_error *err)
{
    if (!(v > 0) || !isfinite(v) || v > 1e9)
        return gp_error_set(err, GP_ERANGE, file, 0, 0, field,
                            "expected a number in (0, 1e9], got %g", v);
    return 0;
}

int trace_check_span(const char *file, int64_t span_us, double time_scale, gp_error *err)
{
    double replay_us = (double)span_us / time_scale;
    if (replay_us <= (double)TRACE_MAX_SPAN_US)
        return 0;
    const double year_us = 365.0 * 86400 * 1e6;
    return gp_error_set(err, GP_ERANGE, file, 0, 0, "time_scale",
                        "the input spans %.6g s; at time_scale %g the replay would span %.3g "
                        "years, beyond the simulator's limit of %g years",
                        (double)span_us / 1e6, time_scale, replay_us / year_us,
                        (double)TRACE_MAX_SPAN_US / year_us);
}

int64_t trace_us_from_s(double s)
{
    double us = s * 1e6;
    if (us > 9.0e18)
        return INT64_MAX / 2;
    if (us < -9.0e18)
        return INT64_MIN / 2;
    return llround(us);
}
