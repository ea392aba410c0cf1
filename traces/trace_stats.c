/* trace_stats.c: one pass over a source, O(1) memory: counts, rates, CVs and the
 * hour-of-day profile, with the definitions of traces/data/SOURCES.md:
 *   mean rate = requests / (last arrival - first arrival);
 *   per-minute figures use clock-minute bins from the first arrival's minute to the
 *   last's, empty ones included; CVs are population standard deviation / mean;
 *   hour_counts[h] = arrivals in clock hour h, hour_days[h] = days of the span [0, span]
 *   (or [first, last] when the span is unknown) that fall in hour h, so
 *   hour_counts[h] / hour_days[h] is the mean per clock hour.
 * The clock reads t + day_offset_us: pass the time of day at t = 0. */
#include <math.h>
#include <string.h>

#include "base/common.h"
#include "traces/trace_internal.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void trace_hour_days(int64_t day_offset_us, int64_t from_us, int64_t to_us, double hour_days[24])
{
    if (to_us <= from_us)
        return;
    int64_t whole = (to_us - from_us) / US_PER_DAY;
    for (int h = 0; h < 24; h++)
        hour_days[h] += (double)whole;
    int64_t a = from_us + whole * US_PER_DAY + day_offset_us;
    int64_t b = to_us + day_offset_us;
    while (a < b) {
        int64_t hour = floor_div(a, US_PER_H);
        int64_t edge = (hour + 1) * US_PER_H;
        if (edge > b)
            edge = b;
        int h = (int)(((hour % 24) + 24) % 24);
        hour_days[h] += (double)(edge - a) / (double)US_PER_H; /* a full hour counts 1 */
        a = edge;
    }
}

void trace_split_partial_hours(trace_stats *st, int64_t day_offset_us, int64_t from_us,
                               int64_t to_us, double first_counts, double last_counts)
{
    for (int h = 0; h < 24; h++) {
        st->hour_full_counts[h] = st->hour_counts[h];
        st->hour_full_days[h] = st->hour_days[h];
        st->partial_counts[h] = st->partial_s[h] = 0;
    }
    if (to_us < from_us)
        return;
    int64_t a = from_us + day_offset_us, b = to_us + day_offset_us;
    int64_t hf = floor_div(a, US_PER_H), hl = floor_div(b, US_PER_H);
    /* the first and the last clock hour: partial unless the span covers them whole */
    int64_t ends[2] = {hf, hl};
    double counts[2] = {first_counts, last_counts};
    for (int k = 0; k < 2; k++) {
        if (k == 1 && hl == hf)
            break;
        int64_t h0 = ends[k] * US_PER_H, h1 = h0 + US_PER_H;
        int64_t lo = a > h0 ? a : h0, hi = b < h1 ? b : h1;
        int64_t cover = hi > lo ? hi - lo : 0;
        if (cover == US_PER_H)
            continue;
        int h = (int)(((ends[k] % 24) + 24) % 24);
        st->hour_full_counts[h] -= counts[k];
        st->hour_full_days[h] -= (double)cover / (double)US_PER_H;
        st->partial_counts[h] += counts[k];
        st->partial_s[h] += (double)cover / 1e6;
    }
    for (int h = 0; h < 24; h++) /* whole hours are whole numbers */
        st->hour_full_days[h] = floor(st->hour_full_days[h] + 0.5);
}

int trace_compute_stats(arrival_src *s, int64_t day_offset_us, trace_stats *st, gp_error *err)
{
    memset(st, 0, sizeof(*st));
    int64_t off = ((day_offset_us % US_PER_DAY) + US_PER_DAY) % US_PER_DAY;
    request_spec r;
    int rc;
    int64_t prev = 0, cur_min = 0, max_count = 0;
    uint64_t cur_count = 0, bins = 0;
    double bin_sum = 0, bin_sumsq = 0;
    double gap_mean = 0, gap_m2 = 0; /* Welford, in seconds */
    double mp_sum = 0, faces_sum = 0;
    uint64_t no_face = 0;
    int64_t first_hour = 0, cur_hour = 0;
    double first_hour_n = 0, cur_hour_n = 0; /* arrivals in the first and current clock hour */
    while ((rc = arrival_src_next(s, &r, err)) > 0) {
        int64_t t = r.arrival_us;
        if (st->count > 0 && t < prev)
            return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, NULL,
                                "source out of order: request %llu at %lld us after %lld us",
                                (unsigned long long)st->count, (long long)t, (long long)prev);
        int64_t m = floor_div(t + off, US_PER_MIN);
        if (st->count == 0) {
            st->first_us = t;
            cur_min = m;
        } else {
            double gap_s = (double)(t - prev) / 1e6;
            uint64_t k = st->count; /* gaps seen so far, including this one */
            double d = gap_s - gap_mean;
            gap_mean += d / (double)k;
            gap_m2 += d * (gap_s - gap_mean);
        }
        if (m != cur_min) {
            /* close the current bin and the empty ones up to m */
            bin_sum += (double)cur_count;
            bin_sumsq += (double)cur_count * (double)cur_count;
            if ((int64_t)cur_count > max_count)
                max_count = (int64_t)cur_count;
            bins += (uint64_t)(m - cur_min);
            cur_min = m;
            cur_count = 0;
        }
        cur_count++;
        int64_t hour = floor_div(t + off, US_PER_H);
        st->hour_counts[((hour % 24) + 24) % 24] += 1;
        if (st->count == 0)
            first_hour = cur_hour = hour;
        if (hour != cur_hour) {
            cur_hour = hour;
            cur_hour_n = 0;
        }
        cur_hour_n++;
        if (hour == first_hour)
            first_hour_n++;
        mp_sum += r.mp;
        faces_sum += r.faces;
        no_face += r.faces == 0;
        prev = t;
        st->count++;
    }
    if (rc < 0)
        return rc;
    if (st->count == 0)
        return 0;
    st->last_us = prev;
    bin_sum += (double)cur_count;
    bin_sumsq += (double)cur_count * (double)cur_count;
    if ((int64_t)cur_count > max_count)
        max_count = (int64_t)cur_count;
    bins++;
    double n = (double)st->count;
    double span_s = (double)(st->last_us - st->first_us) / 1e6;
    st->mean_rate_per_s = span_s > 0 ? n / span_s : 0;
    st->peak_rate_per_s = (double)max_count / 60.0;
    double bmean = bin_sum / (double)bins;
    double bvar = bin_sumsq / (double)bins - bmean * bmean;
    st->cv_per_minute = bmean > 0 ? sqrt(fmax(bvar, 0)) / bmean : 0;
    if (st->count > 1 && gap_mean > 0)
        st->cv_interarrival = sqrt(gap_m2 / (double)(st->count - 1)) / gap_mean;
    int64_t span = arrival_src_span_us(s);
    int64_t from = 0, to = span;
    if (span > 0 && span >= st->last_us) {
        st->span_us = span;
    } else {
        st->span_us = st->last_us - st->first_us;
        from = st->first_us;
        to = st->last_us;
    }
    trace_hour_days(off, from, to, st->hour_days);
    /* the arrivals of the span's first and last clock hours (the last hour of arrivals is
     * the span's last hour only when an arrival falls in it) */
    int64_t span_last_hour = floor_div(to + off, US_PER_H);
    int64_t span_first_hour = floor_div(from + off, US_PER_H);
    trace_split_partial_hours(st, off, from, to, first_hour == span_first_hour ? first_hour_n : 0,
                              cur_hour == span_last_hour && cur_hour != span_first_hour ? cur_hour_n
                                                                                        : 0);
    st->mean_mp = mp_sum / n;
    st->mean_faces = faces_sum / n;
    st->no_face_frac = (double)no_face / n;
    return 0;
}
