#!/usr/bin/env python3
"""gpen_torch.py: an independent PyTorch implementation of GPEN-BFR ("FullGenerator"),
written from docs/gpen.md, with the project's deterministic weights.

The parameter names, shapes and the weight generator are those of gpu/ref/gpen_model.c
and gpu/ref/gpen_rand.c (docs/gpu.md has the recipe); every float32 weight comes out
bit-identical to the C generator. Uses:
  gpen_torch.py golden OUT.safetensors      small-config goldens for tests/test_gpen_ref.c
  gpen_torch.py ref OUT.safetensors         full GPEN-512 input and fp64 output (GPU check)
  gpen_torch.py forward IN OUT [--weights W] [--dtype fp64]
                                            GPEN on the tensor "input" of IN, "out" into OUT,
                                            to compare with `gpenlab-gpu run gpen`
  gpen_torch.py compare A[:TENSOR] B[:TENSOR]   relative L2 distance ||A - B|| / ||B||
  gpen_torch.py bench [--csv F] [--plan-only]  eager / torch.compile timing on a GPU, every
                                            modconv formulation, compile mode and Inductor
                                            layout, most informative first
  gpen_torch.py params                      parameter count of the published config
A dev-time tool: CI does not run it.
"""
import argparse
import contextlib
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_SEED = 20211
M64 = (1 << 64) - 1


# ---------------------------------------------------------------- generator (gpen_rand.c)
def _mix64(z):
    """splitmix64 finaliser on a numpy uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _mix64_int(z):
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def rand_key(seed, name):
    h = 0xcbf29ce484222325
    for ch in name.encode():
        h ^= ch
        h = (h * 0x100000001b3) & M64
    return h ^ _mix64_int(seed)


def _pair(key, n):
    g = np.uint64(0x9E3779B97F4A7C15)
    idx = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        a = _mix64(np.uint64(key) + (np.uint64(2) * idx + np.uint64(1)) * g)
        b = _mix64(np.uint64(key) + (np.uint64(2) * idx + np.uint64(2)) * g)
    return a, b


def rand_normal(key, n):
    a, b = _pair(key, n)
    u1 = ((a >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * (1.0 / 9007199254740992.0)
    u2 = (b >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(6.283185307179586 * u2)


def rand_uniform(key, n):
    _, b = _pair(key, n)
    return (b >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


# ---------------------------------------------------------------- architecture (gpen_model.c)
class Config:
    def __init__(self, size=512, style_dim=512, n_mlp=8, channel_multiplier=2, narrow=1.0,
                 lr_mlp=0.01):
        self.size, self.style_dim, self.n_mlp = size, style_dim, n_mlp
        self.channel_multiplier, self.narrow, self.lr_mlp = channel_multiplier, narrow, lr_mlp
        self.log_size = int(round(math.log2(size)))

    def channels(self, res):
        cm, nw = self.channel_multiplier, self.narrow
        if res <= 32:
            return int(512 * nw)
        return int({64: 256, 128: 128, 256: 64, 512: 32}.get(res, 16) * cm * nw)

    def as_dict(self):
        return dict(size=self.size, style_dim=self.style_dim, n_mlp=self.n_mlp,
                    channel_multiplier=self.channel_multiplier, narrow=self.narrow,
                    lr_mlp=self.lr_mlp)


SMALL = dict(size=64, style_dim=32, n_mlp=2, channel_multiplier=1, narrow=1.0 / 16, lr_mlp=0.01)
BIAS_SD = 0.1


def layout(cfg):
    """[(name, shape, init, a, b)] in creation order; init 'n': a + b*z, 'u': a + (b-a)*u."""
    t = []
    S, sd = cfg.size, cfg.style_dim
    n_enc = cfg.log_size - 1
    enc = []
    for k in range(n_enc):
        rin = S if k == 0 else S >> (k - 1)
        rout = S >> k
        cin = 3 if k == 0 else cfg.channels(rin)
        cout = cfg.channels(rout)
        kk = 1 if k == 0 else 3
        enc.append((cin, cout, kk, rin, rout))
        t.append((f"enc{k}.w", (cout, cin, kk, kk), "n", 0.0, 1.0))
        t.append((f"enc{k}.b", (cout,), "n", 0.0, BIAS_SD))
    c4 = cfg.channels(4)
    t.append(("enc_fc.w", (sd, c4 * 16), "n", 0.0, 1.0))
    t.append(("enc_fc.b", (sd,), "n", 0.0, BIAS_SD))
    for j in range(cfg.n_mlp):
        t.append((f"map{j + 1}.w", (sd, sd), "n", 0.0, 1.0 / cfg.lr_mlp))
        t.append((f"map{j + 1}.b", (sd,), "n", 0.0, BIAS_SD))
    t.append(("const", (c4, 4, 4), "n", 0.0, 1.0))
    convs = []
    n_conv = 1 + 2 * (cfg.log_size - 2)
    for j in range(n_conv):
        r = (j + 1) // 2
        rout = 4 << r
        up = j % 2 == 1
        rin = rout // 2 if up else rout
        cout = cfg.channels(rout)
        cin = c4 if j == 0 else 2 * cfg.channels(rin)
        convs.append(dict(cin=cin, cout=cout, up=up, rin=rin, rout=rout, e=n_enc - 1 - r))
        t.append((f"conv{j}.w", (cout, cin, 3, 3), "n", 0.0, 1.0))
        t.append((f"conv{j}.mod_w", (cin, sd), "n", 0.0, 1.0))
        t.append((f"conv{j}.mod_b", (cin,), "n", 1.0, BIAS_SD))
        t.append((f"conv{j}.nw", (1,), "u", 0.1, 1.0))
        t.append((f"conv{j}.b", (2 * cout,), "n", 0.0, BIAS_SD))
        if j % 2 == 0:
            rc = 2 * cout
            t.append((f"rgb{j // 2}.w", (3, rc), "n", 0.0, 1.0))
            t.append((f"rgb{j // 2}.mod_w", (rc, sd), "n", 0.0, 1.0))
            t.append((f"rgb{j // 2}.mod_b", (rc,), "n", 1.0, BIAS_SD))
            t.append((f"rgb{j // 2}.b", (3,), "n", 0.0, BIAS_SD))
    return t, enc, convs


def random_weights(cfg, seed=DEFAULT_SEED):
    out = {}
    for name, shape, init, a, b in layout(cfg)[0]:
        n = int(np.prod(shape))
        key = rand_key(seed, name)
        if init == "u":
            v = a + (b - a) * rand_uniform(key, n)
        else:
            v = a + b * rand_normal(key, n)
        out[name] = torch.from_numpy(v.astype(np.float32).reshape(shape))
    return out


def random_input(cfg, batch, seed=DEFAULT_SEED):
    n = batch * 3 * cfg.size * cfg.size
    v = -1.0 + 2.0 * rand_uniform(rand_key(seed, "input"), n)
    return torch.from_numpy(v.astype(np.float32).reshape(batch, 3, cfg.size, cfg.size))


# ---------------------------------------------------------------- operations (docs/gpen.md)
def blur_kernel(gain, dtype, device):
    k1 = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
    k = torch.outer(k1, k1) / 64.0 * gain
    return k.to(dtype=dtype, device=device)


def upfirdn2d(x, k, up=1, down=1, pad=(0, 0)):
    """Zero-insert by up, pad (pad0, pad1), 4x4 FIR (true convolution), keep every down-th."""
    B, C, H, W = x.shape
    if up > 1:
        x = x.reshape(B, C, H, 1, W, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(B, C, H * up, W * up)
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    w = torch.flip(k, [0, 1]).reshape(1, 1, 4, 4).repeat(C, 1, 1, 1)
    x = F.conv2d(x, w, groups=C)
    return x[:, :, ::down, ::down]


def flrelu(x, b):
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return F.leaky_relu(x + b.reshape(shape), 0.2) * math.sqrt(2)


def eq_linear(x, w, b, lr_mul=1.0, act=False):
    out = F.linear(x, w * (lr_mul / math.sqrt(w.shape[1])))
    return flrelu(out, b * lr_mul) if act else out + b * lr_mul


def pixel_norm(x):
    return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)


def modconv(x, w, s, demod, up, batched):
    B, cin, H, W = x.shape
    cout, _, k, _ = w.shape
    scale = 1.0 / math.sqrt(cin * k * k)
    if not batched:
        wm = scale * w[None] * s[:, None, :, None, None]
        if demod:
            wm = wm * torch.rsqrt(wm.pow(2).sum([2, 3, 4]) + 1e-8)[:, :, None, None, None]
        if up:
            wt = wm.transpose(1, 2).reshape(B * cin, cout, k, k)
            out = F.conv_transpose2d(x.reshape(1, B * cin, H, W), wt, stride=2, groups=B)
            out = out.reshape(B, cout, 2 * H + 1, 2 * W + 1)
            return upfirdn2d(out, blur_kernel(4.0, x.dtype, x.device), pad=(1, 1))
        out = F.conv2d(x.reshape(1, B * cin, H, W), wm.reshape(B * cout, cin, k, k),
                       padding=k // 2, groups=B)
        return out.reshape(B, cout, H, W)
    ws = w * scale
    xs = x * s[:, :, None, None]
    if up:
        out = F.conv_transpose2d(xs, ws.transpose(0, 1), stride=2)
        out = upfirdn2d(out, blur_kernel(4.0, x.dtype, x.device), pad=(1, 1))
    else:
        out = F.conv2d(xs, ws, padding=k // 2)
    if demod:
        d = torch.rsqrt((s * s) @ ws.pow(2).sum([2, 3]).t() + 1e-8)
        out = out * d[:, :, None, None]
    return out


class GPEN:
    """The forward pass over a dict of weight tensors (names as gpu/ref/gpen_model.c)."""

    def __init__(self, cfg, weights, batched=False):
        self.cfg, self.w, self.batched = cfg, weights, batched
        _, self.enc, self.convs = layout(cfg)

    def to(self, device=None, dtype=None):
        self.w = {k: v.to(device=device, dtype=dtype) for k, v in self.w.items()}
        return self

    def __call__(self, x, taps=None):
        cfg, W = self.cfg, self.w
        enc = []
        for k, (cin, cout, kk, rin, rout) in enumerate(self.enc):
            scale = 1.0 / math.sqrt(cin * kk * kk)
            if k == 0:
                x = F.conv2d(x, W["enc0.w"] * scale)
            else:
                x = upfirdn2d(x, blur_kernel(1.0, x.dtype, x.device), pad=(2, 2))
                x = F.conv2d(x, W[f"enc{k}.w"] * scale, stride=2)
            x = flrelu(x, W[f"enc{k}.b"])
            enc.append(x)
            if taps is not None:
                taps[f"enc{k}"] = x
        lat = eq_linear(x.reshape(x.shape[0], -1), W["enc_fc.w"], W["enc_fc.b"], act=True)
        wl = pixel_norm(lat)
        for j in range(cfg.n_mlp):
            wl = eq_linear(wl, W[f"map{j + 1}.w"], W[f"map{j + 1}.b"], cfg.lr_mlp, act=True)
        if taps is not None:
            taps["enc_fc"], taps["w"] = lat, wl
        B = x.shape[0]
        h = W["const"][None].repeat(B, 1, 1, 1)
        skip = None
        for j, L in enumerate(self.convs):
            s = eq_linear(wl, W[f"conv{j}.mod_w"], W[f"conv{j}.mod_b"])
            y = modconv(h, W[f"conv{j}.w"], s, True, L["up"], self.batched)
            h = flrelu(torch.cat([y, W[f"conv{j}.nw"] * enc[L["e"]]], 1), W[f"conv{j}.b"])
            if taps is not None:
                taps[f"conv{j}"] = h
            if j % 2 == 0:
                r = j // 2
                s = eq_linear(wl, W[f"rgb{r}.mod_w"], W[f"rgb{r}.mod_b"])
                wr = W[f"rgb{r}.w"][:, :, None, None]
                out = modconv(h, wr, s, False, False, self.batched)
                out = out + W[f"rgb{r}.b"].reshape(1, 3, 1, 1)
                if skip is not None:
                    out = out + upfirdn2d(skip, blur_kernel(4.0, h.dtype, h.device), up=2,
                                          pad=(2, 1))
                skip = out
                if taps is not None:
                    taps[f"rgb{r}"] = skip
        return skip


# ---------------------------------------------------------------- safetensors (no dependency)
_DT = {torch.float32: ("F32", 4), torch.float64: ("F64", 8), torch.float16: ("F16", 2),
       torch.bfloat16: ("BF16", 2), torch.int32: ("I32", 4)}


def save_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        code, _ = _DT[t.dtype]
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else \
            t.numpy().tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    npdt = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I32": np.int32}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        b0, b1 = v["data_offsets"]
        arr = np.frombuffer(data[b0:b1], dtype=npdt[v["dtype"]]).reshape(v["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, header.get("__metadata__", {})


# ---------------------------------------------------------------- commands
def cmd_golden(args):
    cfg = Config(**SMALL)
    w = random_weights(cfg, args.seed)
    x = random_input(cfg, args.batch, args.seed)
    taps = {}
    with torch.no_grad():
        m64 = GPEN(cfg, {k: v.double() for k, v in w.items()})
        out = m64(x.double(), taps)
        out_b = GPEN(cfg, m64.w, batched=True)(x.double())
        out32 = GPEN(cfg, w)(x)
    rel = lambda a, b: float((a.double() - b).norm() / b.norm())
    print(f"batched vs exact (fp64) rel L2 {rel(out_b, out):.3e}; fp32 vs fp64 {rel(out32, out):.3e}")
    keep = {"input": x, "out": out.float()}
    for name in ("enc_fc", "w", f"enc{cfg.log_size - 2}", "conv0", "rgb0", "conv1", "conv2"):
        keep["tap." + name] = taps[name].float()
    for name in ("enc0.w", "const", "conv0.nw", "conv3.mod_b", "map1.w", "rgb1.b"):
        keep["weight." + name] = w[name]
    meta = dict(cfg.as_dict(), seed=args.seed, batch=args.batch, tool="scripts/gpen_torch.py golden",
                torch=torch.__version__)
    save_safetensors(args.out, keep, meta)
    print(f"wrote {args.out}: {sorted(keep)}")


def model_weights(cfg, args):
    """The deterministic weights, or those of --weights (a project safetensors file, whose
    metadata gives the configuration)."""
    if getattr(args, "weights", None):
        w, meta = load_safetensors(args.weights)
        return {k: v.float() for k, v in w.items()}
    return random_weights(cfg, args.seed)


def config_of(args):
    if getattr(args, "weights", None):
        _, meta = load_safetensors(args.weights)
        keys = dict(size=int, style_dim=int, n_mlp=int, channel_multiplier=int, narrow=float, lr_mlp=float)
        return Config(**{k: t(meta[k]) for k, t in keys.items() if k in meta})
    return Config()


def cmd_forward(args):
    cfg = config_of(args)
    x, _ = load_safetensors(args.inp)
    if "input" not in x:
        sys.exit(f"gpen_torch.py forward: {args.inp}: no tensor 'input'")
    x = x["input"].float()
    if x.dim() != 4 or tuple(x.shape[1:]) != (3, cfg.size, cfg.size):
        sys.exit(f"gpen_torch.py forward: {args.inp}: input: expected [B, 3, {cfg.size}, {cfg.size}], got {list(x.shape)}")
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    dt = {"fp64": torch.float64, "fp32": torch.float32, "fp16": torch.float16}[args.dtype]
    w = model_weights(cfg, args)
    with torch.no_grad():
        out = GPEN(cfg, {k: v.to(dev, dt) for k, v in w.items()})(x.to(dev, dt))
    save_safetensors(args.out, {"out": out.float().cpu()},
                     dict(cfg.as_dict(), tool="scripts/gpen_torch.py forward", dtype=args.dtype, device=dev,
                          weights=args.weights or f"deterministic random, seed {args.seed}"))
    print(f"wrote {args.out} ({args.dtype} forward on {dev}, batch {x.shape[0]})")


def cmd_compare(args):
    def get(spec):
        path, _, name = spec.partition(":")
        t, _ = load_safetensors(path)
        name = name or ("out" if "out" in t else next(iter(t)))
        if name not in t:
            sys.exit(f"gpen_torch.py compare: {path}: no tensor '{name}'")
        return t[name].double()
    a, b = get(args.a), get(args.b)
    if a.shape != b.shape:
        sys.exit(f"gpen_torch.py compare: shapes differ: {list(a.shape)} vs {list(b.shape)}")
    rel = float((a - b).norm() / b.norm())
    print(f"compare {args.a} vs {args.b}: rel L2 {rel:.3e} ({a.numel()} values)")


def cmd_ref(args):
    cfg = config_of(args)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    w = model_weights(cfg, args)
    x = random_input(cfg, args.batch, args.seed)
    with torch.no_grad():
        out = GPEN(cfg, {k: v.to(dev, torch.float64) for k, v in w.items()})(x.to(dev, torch.float64))
    save_safetensors(args.out, {"input": x, "out": out.float().cpu()},
                     dict(cfg.as_dict(), seed=args.seed, batch=args.batch, device=dev))
    print(f"wrote {args.out} (fp64 forward on {dev}, batch {args.batch})")


def _time_ms(fn, x, reps, before=None):
    for _ in range(3):
        if before:
            before()
        fn(x)
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        if before:
            before()
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        e0.record()
        fn(x)
        e1.record()
        torch.cuda.synchronize()
        ts.append(e0.elapsed_time(e1))
    ts.sort()
    return ts[len(ts) // 2]


# torch.compile modes as they appear in the CSV's mode column (the C bench reads it):
# compile = mode "default", compile-ro = "reduce-overhead" (CUDA graphs), compile-ma =
# "max-autotune" (Triton autotuning and CUDA graphs). Each is compiled for its batch size
# (static shapes).
COMPILE_MODES = {"compile": "default", "compile-ro": "reduce-overhead", "compile-ma": "max-autotune"}

# Inductor's layout, the CSV's layout column: "auto" is torch's own choice; "nchw" turns
# Inductor's layout optimisation off (torch._inductor.config.layout_optimization = False).
# With static shapes Inductor moves GPEN's convs to channels-last, where cuDNN's 4x4
# depthwise blur convs are slow (1.47 ms for one 64x516x516 blur at batch 1 in the
# max-autotune log of gpu/bench/h100-2026-12-07-eb0bff7/session.log); in that run batch 8
# compiled took 54 ms against eager's 43. The runs of gpu/bench/h100-5a2f5ac.txt and
# h100-14e5c59.txt (21 ms at batch 8) compiled batch 8 as a recompile with a dynamic batch
# size, and Inductor skips its layout optimisation for dynamic shapes. Whether the layout
# is the whole difference is what the nchw rows measure; the fair baseline is the fastest.
LAYOUTS = ("auto", "nchw")

# The modulated conv's formulations (GPEN's `batched` argument): batched = one conv with
# shared weights on the style-scaled input, then demodulation; exact = per-sample weights
# as a grouped conv (the published form).
MODCONVS = ("batched", "exact")

# Seconds one configuration takes to compile and time, rounded up from the H100 session of
# 2026-12-07 (torch 2.11: eager 1 s, default mode 20-21 s, reduce-overhead 13-15 s,
# max-autotune still compiling batch 1 after 150 s): a configuration starts only when its
# estimate fits before --deadline.
EST_S = {"eager": 5, "compile": 30, "compile-ro": 25, "compile-ma": 400}

# The order of the timings, most informative first, so that a run cut by --deadline keeps
# what decides the comparison: eager everywhere (seconds), then for every batch size the
# formulation and layout expected fastest (batched, nchw) under reduce-overhead, torch's own
# layout and the exact form at the target batch sizes, the default mode, the rest, and
# max-autotune (minutes a configuration) last. "targets" are batch 1 and 8 (issue 14's
# targets), "others" the rest; each (modconv, mode, layout) asked for but not listed here
# comes after the list.
PRIORITY = [
    ("batched", "eager", "auto", "all"),
    ("exact", "eager", "auto", "all"),
    ("batched", "compile-ro", "nchw", "all"),
    ("batched", "compile-ro", "auto", "targets"),
    ("batched", "compile", "nchw", "all"),
    ("exact", "compile-ro", "auto", "targets"),
    ("batched", "compile", "auto", "targets"),
    ("batched", "compile-ro", "auto", "others"),
    ("exact", "compile-ro", "auto", "others"),
    ("exact", "compile", "auto", "all"),
    ("batched", "compile", "auto", "others"),
    ("exact", "compile-ro", "nchw", "all"),
    ("exact", "compile", "nchw", "all"),
    ("batched", "compile-ma", "nchw", "all"),
    ("batched", "compile-ma", "auto", "all"),
    ("exact", "compile-ma", "auto", "all"),
]
TARGET_BATCHES = (1, 8)


def bench_plan(batches, modes, modconvs, layouts):
    """[(modconv, mode, layout, batch)] in the order to time them (PRIORITY). Eager has one
    layout (auto: the layout switch is Inductor's)."""
    targets = [b for b in TARGET_BATCHES if b in batches] or batches[:1]
    others = sorted(b for b in batches if b not in targets)
    groups = {"all": targets + others, "targets": targets, "others": others}
    wanted = [(f, m, lay) for f in modconvs for m in modes for lay in layouts if m != "eager" or lay == "auto"]
    if "eager" in modes and "auto" not in layouts:
        wanted += [(f, "eager", "auto") for f in modconvs]
    plan, seen = [], set()

    def add(f, m, lay, bs):
        for b in bs:
            if (f, m, lay) in wanted and (f, m, lay, b) not in seen:
                seen.add((f, m, lay, b))
                plan.append((f, m, lay, b))
    for f, m, lay, group in PRIORITY:
        add(f, m, lay, groups[group])
    for f, m, lay in wanted:
        add(f, m, lay, groups["all"])
    return plan


def _split(text, allowed, what):
    vals = [v for v in text.split(",") if v]
    for v in vals:
        if v not in allowed:
            sys.exit(f"gpen_torch.py bench: --{what}: unknown value '{v}' ({', '.join(allowed)})")
    if not vals:
        sys.exit(f"gpen_torch.py bench: --{what}: empty")
    return vals


def cmd_bench(args):
    batches = []
    for v in args.batches.split(","):
        if not v.isdigit() or not 1 <= int(v) <= 4096:
            sys.exit(f"gpen_torch.py bench: --batches: '{v}' is not a batch size in 1..4096")
        batches.append(int(v))
    modes = _split(args.modes, ("eager",) + tuple(COMPILE_MODES), "modes")
    modconvs = _split(args.modconv, MODCONVS, "modconv")
    layouts = _split(args.layouts, LAYOUTS, "layouts")
    dtypes = _split(args.dtypes, ("fp16", "bf16", "fp32"), "dtypes")
    plan = bench_plan(batches, modes, modconvs, layouts)
    if args.plan_only:
        total = 0
        for f, m, lay, b in plan:
            total += EST_S[m]
            print(f"{m:10s} {f:7s} {lay:4s} batch {b:<4d} ~{EST_S[m]:3d} s (by then ~{total} s)")
        return
    import torch._inductor.config as inductor_config  # torch >= 2 (the plan above needs none)
    t_end = time.time() + args.deadline if args.deadline > 0 else float("inf")
    cfg = Config()
    w = random_weights(cfg, args.seed)
    res = []
    csv_out = open(args.csv, "w") if args.csv else None
    if csv_out:
        csv_out.write("dtype,mode,modconv,layout,batch,ms\n")
    print(f"# torch {torch.__version__}, {torch.cuda.get_device_name(0)}; deterministic random weights (seed {args.seed});"
          f" {len(plan)} configurations per dtype, timed in the order of --plan-only while they fit --deadline",
          flush=True)
    for dtype_name in dtypes:
        dt = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dtype_name]
        models = {f: GPEN(cfg, dict(w), batched=f == "batched").to("cuda", dt) for f in modconvs}
        for f, mode, lay, b in plan:
            left = t_end - time.time()
            if EST_S[mode] > left:
                print(f"# {dtype_name} {mode} {f} {lay} b{b}: skipped (needs ~{EST_S[mode]} s, "
                      f"{max(left, 0):.0f} s left of --deadline {args.deadline:.0f})", flush=True)
                continue
            m = models[f]
            torch._dynamo.reset()
            t0 = time.time()
            before = None
            if mode == "eager":
                fn = (lambda x, m=m: m(x))
            else:
                fn = torch.compile(lambda x, m=m: m(x), mode=COMPILE_MODES[mode], dynamic=False)
                if mode != "compile":
                    before = torch.compiler.cudagraph_mark_step_begin
            x = random_input(cfg, b, args.seed).to("cuda", dt)
            with torch.no_grad():
                try:
                    # the first call compiles: the layout switch must hold around it
                    with (inductor_config.patch(layout_optimization=False) if lay == "nchw"
                          else contextlib.nullcontext()):
                        ms = _time_ms(fn, x, args.reps, before)
                except Exception as e:  # report, keep going
                    print(f"# {dtype_name} {mode} {f} {lay} b{b}: failed: {e}", flush=True)
                    continue
            r = dict(dtype=dtype_name, mode=mode, modconv=f, layout=lay, batch=b, ms=ms,
                     setup_s=time.time() - t0)
            res.append(r)
            print(f"torch {dtype_name} {mode:10s} {f:7s} {lay:4s} batch {b}: {ms:8.3f} ms"
                  f"   # {r['setup_s']:.0f} s to compile and time", flush=True)
            if csv_out:  # row by row: a run cut by its deadline keeps what it measured
                csv_out.write(f"{dtype_name},{mode},{f},{lay},{b},{ms:.6f}\n")
                csv_out.flush()
    if csv_out:
        csv_out.close()
    if args.json:
        with open(args.json, "w") as fj:
            json.dump(dict(torch=torch.__version__, device=torch.cuda.get_device_name(0),
                           results=res), fj, indent=1)


def cmd_params(_args):
    cfg = Config()
    t = layout(cfg)[0]
    n = sum(int(np.prod(s)) for _, s, *_ in t)
    print(f"GPEN-512 parameters: {n}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("golden")
    g.add_argument("out")
    g.add_argument("--batch", type=int, default=2)
    r = sub.add_parser("ref")
    r.add_argument("out")
    r.add_argument("--batch", type=int, default=1)
    r.add_argument("--weights", help="project safetensors weights (default: deterministic random)")
    fw = sub.add_parser("forward")
    fw.add_argument("inp")
    fw.add_argument("out")
    fw.add_argument("--weights", help="project safetensors weights (default: deterministic random)")
    fw.add_argument("--dtype", default="fp64", choices=("fp64", "fp32", "fp16"))
    cp = sub.add_parser("compare")
    cp.add_argument("a")
    cp.add_argument("b")
    b = sub.add_parser("bench")
    b.add_argument("--json")
    b.add_argument("--batches", default="1,2,4,8,16")
    b.add_argument("--dtypes", default="fp16")
    b.add_argument("--reps", type=int, default=20)
    b.add_argument("--modes", default="eager,compile,compile-ro,compile-ma",
                   help="eager, compile (default), compile-ro (reduce-overhead), compile-ma (max-autotune)")
    b.add_argument("--modconv", default="batched,exact",
                   help="modulated-conv formulations: batched (shared weights on the scaled input), "
                        "exact (per-sample weights, grouped conv)")
    b.add_argument("--layouts", default="auto,nchw",
                   help="Inductor's layout: auto (its own choice), nchw (layout optimisation off)")
    b.add_argument("--deadline", type=float, default=0,
                   help="start a configuration only when its estimated time fits in this many seconds")
    b.add_argument("--plan-only", action="store_true",
                   help="print the configurations in the order they would be timed, and the estimates; "
                        "needs no GPU")
    b.add_argument("--csv", help="also write the timings as CSV (dtype,mode,modconv,layout,batch,ms): "
                                 "the file gpenlab-gpu bench --torch reads")
    sub.add_parser("params")
    args = p.parse_args()
    {"golden": cmd_golden, "ref": cmd_ref, "bench": cmd_bench, "params": cmd_params, "forward": cmd_forward,
     "compare": cmd_compare}[args.cmd](args)


if __name__ == "__main__":
    main()
