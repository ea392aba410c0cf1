#!/usr/bin/env python3
"""convert_gpen_checkpoint.py: the official GPEN-BFR checkpoint (yangxy/GPEN,
face_model/gpen_model.py FullGenerator, e.g. GPEN-BFR-512.pth) to the project's
safetensors layout (gpu/ref/gpen_model.c names), which gpu/ref/gpen_load.c and
`gpenlab-gpu --weights` read.

  convert_gpen_checkpoint.py GPEN-BFR-512.pth out.safetensors [--size 512 --narrow 1 ...]
  convert_gpen_checkpoint.py --selftest      builds an official-format state dict from the
                                             project's random weights, converts it back and
                                             checks every tensor is identical

Official name                                   -> project name
ecd0.0.0.weight / ecd0.0.1.bias                 -> enc0.w / enc0.b
ecd{k}.0.1.weight / ecd{k}.0.2.bias (k >= 1)    -> enc{k}.w / enc{k}.b  (ecd{k}.0.0.kernel: blur, dropped)
final_linear.0.weight / .bias                   -> enc_fc.w / enc_fc.b
generator.style.{j}.weight / .bias (j = 1..8)   -> map{j}.w / map{j}.b
generator.input.input                           -> const
generator.conv1.*                               -> conv0.*
generator.convs.{i}.*                           -> conv{i+1}.*
  .conv.weight [1,O,I,3,3]                      ->   .w [O,I,3,3]
  .conv.modulation.weight / .bias               ->   .mod_w / .mod_b
  .noise.weight [1]                             ->   .nw
  .activate.bias [2*O]                          ->   .b
generator.to_rgb1.* / generator.to_rgbs.{i}.*   -> rgb0.* / rgb{i+1}.*
  .conv.weight [1,3,I,1,1] / .bias [1,3,1,1]    ->   .w [3,I] / .b [3]
Buffers (*.kernel, generator.noises.*) are dropped. A 'module.' prefix and a 'g_ema' or
'state_dict' wrapper are accepted.
"""
import argparse
import re
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import gpen_torch as gt  # noqa: E402

_RULES = [
    (r"ecd0\.0\.0\.weight", "enc0.w"),
    (r"ecd0\.0\.1\.bias", "enc0.b"),
    (r"ecd(\d+)\.0\.1\.weight", "enc{0}.w"),
    (r"ecd(\d+)\.0\.2\.bias", "enc{0}.b"),
    (r"final_linear\.0\.weight", "enc_fc.w"),
    (r"final_linear\.0\.bias", "enc_fc.b"),
    (r"generator\.style\.(\d+)\.weight", "map{0}.w"),
    (r"generator\.style\.(\d+)\.bias", "map{0}.b"),
    (r"generator\.input\.input", "const"),
]
_LAYER = {"conv.weight": "w", "conv.modulation.weight": "mod_w", "conv.modulation.bias": "mod_b",
          "noise.weight": "nw", "activate.bias": "b", "bias": "b"}


def project_name(name):
    """Project name of an official tensor name, or None for buffers and unknown names."""
    for pat, out in _RULES:
        m = re.fullmatch(pat, name)
        if m:
            return out.format(*m.groups())
    m = re.fullmatch(r"generator\.(conv1|convs\.(\d+)|to_rgb1|to_rgbs\.(\d+))\.(.+)", name)
    if not m:
        return None
    part, ci, ri, rest = m.groups()
    if rest not in _LAYER:
        return None
    if part == "conv1":
        base = "conv0"
    elif part.startswith("convs"):
        base = f"conv{int(ci) + 1}"
    elif part == "to_rgb1":
        base = "rgb0"
    else:
        base = f"rgb{int(ri) + 1}"
    return f"{base}.{_LAYER[rest]}"


def convert(state, cfg):
    """{project name: float32 tensor in the project's shape}; raises on anything missing."""
    if "g_ema" in state:
        state = state["g_ema"]
    if "state_dict" in state:
        state = state["state_dict"]
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    want = {name: shape for name, shape, *_ in gt.layout(cfg)[0]}
    out = {}
    for name, t in state.items():
        p = project_name(name)
        if p is None:
            continue
        if p not in want:
            raise ValueError(f"{name} -> {p}: not in the configuration (size {cfg.size}?)")
        t = t.detach().float().reshape(want[p])  # drops the leading/trailing 1 dims
        out[p] = t.contiguous()
    missing = sorted(set(want) - set(out))
    if missing:
        raise ValueError(f"checkpoint lacks {len(missing)} tensors, e.g. {missing[:5]}")
    return out


def official_from_project(w, cfg):
    """The inverse mapping with the official shapes (for --selftest)."""
    _, enc, convs = gt.layout(cfg)
    st = {}
    for k in range(len(enc)):
        if k == 0:
            st["ecd0.0.0.weight"], st["ecd0.0.1.bias"] = w["enc0.w"], w["enc0.b"]
        else:
            st[f"ecd{k}.0.0.kernel"] = gt.blur_kernel(1.0, torch.float32, "cpu")
            st[f"ecd{k}.0.1.weight"], st[f"ecd{k}.0.2.bias"] = w[f"enc{k}.w"], w[f"enc{k}.b"]
    st["final_linear.0.weight"], st["final_linear.0.bias"] = w["enc_fc.w"], w["enc_fc.b"]
    for j in range(1, cfg.n_mlp + 1):
        st[f"generator.style.{j}.weight"], st[f"generator.style.{j}.bias"] = w[f"map{j}.w"], w[f"map{j}.b"]
    st["generator.input.input"] = w["const"][None]
    for j in range(len(convs)):
        base = "generator.conv1" if j == 0 else f"generator.convs.{j - 1}"
        st[base + ".conv.weight"] = w[f"conv{j}.w"][None]
        st[base + ".conv.modulation.weight"] = w[f"conv{j}.mod_w"]
        st[base + ".conv.modulation.bias"] = w[f"conv{j}.mod_b"]
        st[base + ".noise.weight"] = w[f"conv{j}.nw"]
        st[base + ".activate.bias"] = w[f"conv{j}.b"]
        if j % 2 == 0:
            r = j // 2
            rb = "generator.to_rgb1" if r == 0 else f"generator.to_rgbs.{r - 1}"
            st[rb + ".conv.weight"] = w[f"rgb{r}.w"][None, :, :, None, None]
            st[rb + ".conv.modulation.weight"] = w[f"rgb{r}.mod_w"]
            st[rb + ".conv.modulation.bias"] = w[f"rgb{r}.mod_b"]
            st[rb + ".bias"] = w[f"rgb{r}.b"].reshape(1, 3, 1, 1)
    return {"module." + k: v for k, v in st.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", nargs="?")
    p.add_argument("out", nargs="?")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--style-dim", type=int, default=512)
    p.add_argument("--n-mlp", type=int, default=8)
    p.add_argument("--channel-multiplier", type=int, default=2)
    p.add_argument("--narrow", type=float, default=1.0)
    p.add_argument("--selftest", action="store_true")
    a = p.parse_args()
    cfg = gt.Config(a.size, a.style_dim, a.n_mlp, a.channel_multiplier, a.narrow)
    if a.selftest:
        cfg = gt.Config(**gt.SMALL)
        w = gt.random_weights(cfg)
        back = convert(official_from_project(w, cfg), cfg)
        bad = [k for k in w if not torch.equal(w[k], back[k])]
        print("convert selftest:", "FAIL " + ", ".join(bad) if bad else f"PASS ({len(w)} tensors)")
        sys.exit(1 if bad else 0)
    if not a.checkpoint or not a.out:
        p.error("checkpoint and out are required")
    state = torch.load(a.checkpoint, map_location="cpu")
    out = convert(state, cfg)
    gt.save_safetensors(a.out, out, dict(cfg.as_dict(), format="gpenlab-gpen 1", source=a.checkpoint))
    print(f"wrote {a.out}: {len(out)} tensors, {sum(t.numel() for t in out.values())} parameters")


if __name__ == "__main__":
    main()
