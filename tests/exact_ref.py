#!/usr/bin/env python3
"""exact_ref.py: an exact reference of gpenlab's static open-loop model, written apart
from sim/sim.c, for tests/test_exact.c.

Reads one case file (written by test_exact.c):
    pods P
    concurrency C
    timeout_us T          (0: no timeout)
    eff E1 E2 ... EC      (eff(n) as hex doubles)
    r ID ARRIVAL_US DEMAND_US_HEX START END GPU_END OUTCOME   (gpenlab's row, one per request)
computes every request's start, end, GPU end and outcome from the model alone, compares
them with gpenlab's, prints a summary and the first disagreements, and exits 0 only when
every request agrees.

The model (docs/model.md): P ready pods, C slots each, one FIFO queue. A request with n in
service on its GPU receives floor(eff(n) * 2^64 / n) / 2^64 us of work per us; its demand
is the exact value of its double; it completes at the first whole us at which the work it
received reaches the demand. At one us: completions first (one that completes at its
deadline is completed), then every request whose deadline has come times out (a waiting
one leaves the queue; one in service keeps its slot until its GPU is done), then
arrivals, then free slots take waiting requests in arrival order. With a timeout the run
ends at last arrival + T + 1 us: GPU work still running then has no end (-1). Without
one, it runs until every request is answered.

Arithmetic: Python integers counting 2^-64 us of work: exact rationals on a common
denominator, no floating point after the inputs are read. Pods with C > 1 must be alone
(P = 1): which pod of several a freed slot belongs to is an implementation choice that
this reference does not model.
"""
import sys
from collections import deque

UNIT = 1 << 64


def ceil_div(a, b):
    return -((-a) // b)


def read_case(path):
    hdr = {}
    rows = []
    with open(path) as f:
        for line in f:
            tok = line.split()
            if not tok or tok[0].startswith('#'):
                continue
            if tok[0] == 'r':
                rows.append((int(tok[1]), int(tok[2]), float.fromhex(tok[3]), int(tok[4]),
                             int(tok[5]), int(tok[6]), tok[7]))
            elif tok[0] == 'eff':
                hdr['eff'] = [float.fromhex(x) for x in tok[1:]]
            else:
                hdr[tok[0]] = int(tok[1])
    rows.sort(key=lambda r: r[0])
    return hdr, rows


def simulate(pods, conc, timeout, eff, arrival, demand):
    n = len(arrival)
    if pods > 1 and conc > 1:
        raise SystemExit("exact_ref: several pods with concurrency > 1 are not modelled")
    # per-request speed with k in service, in units per us
    rate = [0]
    for k in range(1, conc + 1):
        num, den = eff[k - 1].as_integer_ratio()
        rate.append((num * UNIT) // (den * k))
    work = []
    for d in demand:
        num, den = d.as_integer_ratio()
        work.append(ceil_div(num * UNIT, den))
    start = [-1] * n
    end = [-1] * n
    gpu_end = [-1] * n
    outcome = ['I'] * n
    resolved = [False] * n
    waiting = [False] * n
    queue = deque()
    # per pod: its requests [request, work left at `since`], since, next completion
    svc = [[] for _ in range(pods)]
    since = [0] * pods
    next_end = [None] * pods

    def advance(k, t):
        p = svc[k]
        if p and t > since[k]:
            done = rate[len(p)] * (t - since[k])
            for e in p:
                e[1] -= done
        since[k] = t

    def replan(k):
        p = svc[k]
        next_end[k] = since[k] + ceil_div(max(0, min(e[1] for e in p)), rate[len(p)]) if p else None

    horizon = arrival[-1] + timeout + 1 if timeout and n else None
    t = 0
    next_arrival = 0
    next_deadline = 0  # requests before it have had their deadline handled
    while True:
        cand = [x for x in next_end if x is not None]
        if next_arrival < n:
            cand.append(arrival[next_arrival])
        if timeout:
            while next_deadline < next_arrival and resolved[next_deadline]:
                next_deadline += 1
            if next_deadline < next_arrival:
                cand.append(arrival[next_deadline] + timeout)
        if not cand:
            break
        t = min(cand)
        if horizon is not None and t > horizon:
            break
        # 1. completions
        for k in range(pods):
            if next_end[k] != t:
                continue
            advance(k, t)
            keep = []
            for e in svc[k]:
                if e[1] <= 0:
                    i = e[0]
                    gpu_end[i] = t
                    if not resolved[i]:
                        resolved[i] = True
                        end[i] = t
                        outcome[i] = 'C'
                else:
                    keep.append(e)
            svc[k] = keep
            replan(k)
        # 2. deadlines: waiting ones leave, ones in service stay on their GPU
        if timeout:
            i = next_deadline
            while i < next_arrival and arrival[i] + timeout <= t:
                if not resolved[i]:
                    resolved[i] = True
                    end[i] = arrival[i] + timeout
                    outcome[i] = 'T'
                    waiting[i] = False
                i += 1
        # 3. arrivals
        while next_arrival < n and arrival[next_arrival] == t:
            queue.append(next_arrival)
            waiting[next_arrival] = True
            next_arrival += 1
        # 4. free slots take waiting requests in arrival order
        for k in range(pods):
            p = svc[k]
            if len(p) >= conc:
                continue
            while queue and not waiting[queue[0]]:
                queue.popleft()
            if not queue:
                break
            advance(k, t)
            while len(p) < conc and queue:
                i = queue.popleft()
                if not waiting[i]:
                    continue
                waiting[i] = False
                start[i] = t
                p.append([i, work[i]])
            replan(k)
    return start, end, gpu_end, outcome


def main():
    hdr, rows = read_case(sys.argv[1])
    ids = [r[0] for r in rows]
    if ids != list(range(len(rows))):
        print("exact_ref: request ids are not 0..n-1")
        return 1
    arrival = [r[1] for r in rows]
    if any(b < a for a, b in zip(arrival, arrival[1:])):
        print("exact_ref: arrivals are not sorted")
        return 1
    start, end, gpu_end, outcome = simulate(hdr['pods'], hdr['concurrency'], hdr['timeout_us'],
                                            hdr['eff'], arrival, [r[2] for r in rows])
    names = ("start", "end", "gpu_end", "outcome")
    bad = {k: 0 for k in names}
    shown = 0
    worst = 0
    for i, r in enumerate(rows):
        mine = (start[i], end[i], gpu_end[i], outcome[i])
        theirs = r[3:]
        if mine == theirs:
            continue
        for k, a, b in zip(names, mine, theirs):
            if a != b:
                bad[k] += 1
                if k in ("start", "end") and a >= 0 and b >= 0:
                    worst = max(worst, abs(a - b))
        if shown < 5:
            shown += 1
            print(f"  request {i}: reference start/end/gpu_end/outcome {mine}, gpenlab {theirs}")
    n_bad = sum(1 for i, r in enumerate(rows) if (start[i], end[i], gpu_end[i], outcome[i]) != r[3:])
    counts = {k: outcome.count(k) for k in "CTI"}
    print(f"{len(rows)} requests (completed {counts['C']}, timed out {counts['T']}, "
          f"in flight {counts['I']}): {len(rows) - n_bad} agree, {n_bad} differ "
          f"(start {bad['start']}, end {bad['end']}, gpu_end {bad['gpu_end']}, "
          f"outcome {bad['outcome']}; largest start/end gap {worst} us)")
    return 0 if n_bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
