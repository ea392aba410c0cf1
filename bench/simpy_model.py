#!/usr/bin/python3
"""simpy_model.py: the benchmark's static system in SimPy 3 (Debian's python3-simpy3), the
same model as gpenlab's on the same trace, for bench/bench_simpy.c.

    simpy_model.py TRACE.csv PODS MP0 MP1 MS0 MS1 [OUT.csv]

TRACE.csv has the columns t_us,mp,faces (faces must be 0). PODS identical pods serve one
request at a time from one FIFO queue; no timeout. A request's demand (us) is gpenlab's
profile interpolation of one image stage at its megapixels, MS0 ms at MP0 and MS1 ms at
MP1 (linear, extrapolated past the ends, never below 0), in the same double operations;
mp is read as a float32 as gpenlab reads it. On an idle GPU at speed 1 a request ends at
the first whole us at which its service reaches the demand: start + ceil(demand).
OUT.csv gets id,arrival_us,start_us,end_us per request in id order. Prints one line:
    simpy requests N read_s R loop_s L
"""
import math
import struct
import sys
import time

import simpy


def read_trace(path):
    t_us, mp = [], []
    f32 = struct.Struct('f')
    with open(path) as f:
        header = f.readline().strip().split(',')
        if header != ['t_us', 'mp', 'faces']:
            raise SystemExit(f"{path}: expected the columns t_us,mp,faces")
        for line in f:
            a, b, c = line.split(',')
            if int(c) != 0:
                raise SystemExit(f"{path}: faces must be 0")
            t_us.append(int(a))
            mp.append(f32.unpack(f32.pack(float(b)))[0])
    return t_us, mp


def demand_us(mp, x0, x1, v0, v1):
    # profile.c grid_interp (two grid points) and profile_demand_us, operation by operation
    y = v0 + (v1 - v0) * (mp - x0) / (x1 - x0)
    y = y if y > 0 else 0.0
    return 1000.0 * (y + 0)


def run(t_us, service_us, pods):
    env = simpy.Environment()
    gpus = simpy.Resource(env, capacity=pods)
    n = len(t_us)
    start = [0] * n
    end = [0] * n

    def request(i):
        with gpus.request() as slot:
            yield slot
            start[i] = env.now
            yield env.timeout(service_us[i])
            end[i] = env.now

    def source():
        for i in range(n):
            wait = t_us[i] - env.now
            if wait > 0:
                yield env.timeout(wait)
            env.process(request(i))

    env.process(source())
    env.run()
    return start, end


def main():
    path, pods = sys.argv[1], int(sys.argv[2])
    x0, x1, v0, v1 = (float(x) for x in sys.argv[3:7])
    out = sys.argv[7] if len(sys.argv) > 7 else None
    t0 = time.perf_counter()
    t_us, mp = read_trace(path)
    service_us = [math.ceil(demand_us(m, x0, x1, v0, v1)) for m in mp]
    t1 = time.perf_counter()
    start, end = run(t_us, service_us, pods)
    t2 = time.perf_counter()
    if out:
        with open(out, 'w') as f:
            f.write("id,arrival_us,start_us,end_us\n")
            for i in range(len(t_us)):
                f.write(f"{i},{t_us[i]},{start[i]},{end[i]}\n")
    print(f"simpy requests {len(t_us)} read_s {t1 - t0:.6f} loop_s {t2 - t1:.6f}")


if __name__ == "__main__":
    main()
