#!/usr/bin/env python3
"""convert_pipeline_checkpoint.py: the official RetinaFace-R50 (GPEN weights/RetinaFace-R50.pth)
and ParseNet (weights/ParseNet-latest.pth) checkpoints to the project's pipeline layout,
which gpu/ref/pipe_nets.c (CPU reference) and `gpenlab-gpu --detector-weights /
--parser-weights` read.

  convert_pipeline_checkpoint.py retinaface RetinaFace-R50.pth retinaface.safetensors
  convert_pipeline_checkpoint.py parsenet ParseNet-latest.pth parsenet.safetensors
  convert_pipeline_checkpoint.py --selftest   random official-format state dicts of both
                                             nets: every tensor consumed, folds checked

Every convolution becomes NAME.weight [O, I, k, k] and NAME.bias [O] (float32), with the
BatchNorm that follows it folded in (w * g / sqrt(v + eps), b - m * g / sqrt(v + eps)):
  RetinaFace: body.conv1 (+ body.bn1); body.layer{s}.{i}.conv{1,2,3} (+ bn{1,2,3});
    body.layer{s}.{i}.downsample (.0 + .1); fpn.output{1,2,3} and fpn.merge{1,2} (.0 + .1);
    ssh{l}.conv3X3 / conv5X5_1 / conv5X5_2 / conv7X7_2 / conv7x7_3 (.0 + .1);
    head{l} = ClassHead.{l}.conv1x1 | BboxHead.{l}.conv1x1 | LandmarkHead.{l}.conv1x1
    (4 + 8 + 20 output channels, in that order).
  ParseNet: encoder.0 (encoder.0.conv2d); {encoder,body,decoder}.{i}.conv{1,2}
    (.conv2d + .norm.norm); {encoder,decoder}.{i}.shortcut (.shortcut_func.conv2d);
    out = out_img_conv.conv2d | out_mask_conv.conv2d (3 + 19 output channels).
A 'module.' prefix and a 'state_dict' wrapper are accepted; num_batches_tracked is
ignored; any other tensor left over is an error (a different architecture).
"""
import argparse
import re
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import gpen_torch as gt  # noqa: E402

FORMAT = "gpenlab-pipe 1"
BN_EPS = 1e-5


class ConvertError(Exception):
    pass


def _clean(state):
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return {re.sub(r"^module\.", "", k): v for k, v in state.items() if not k.endswith("num_batches_tracked")}


class _Folder:
    def __init__(self, state):
        self.state, self.used, self.out = state, set(), {}

    def take(self, key):
        if key not in self.state:
            raise ConvertError(f"missing tensor {key}")
        self.used.add(key)
        return self.state[key].double()

    def conv(self, name, conv, bn=None):
        w = self.take(conv + ".weight")
        b = self.take(conv + ".bias") if conv + ".bias" in self.state else torch.zeros(w.shape[0], dtype=torch.float64)
        if bn is not None:
            g, beta = self.take(bn + ".weight"), self.take(bn + ".bias")
            m, v = self.take(bn + ".running_mean"), self.take(bn + ".running_var")
            s = g / torch.sqrt(v + BN_EPS)
            w = w * s.view(-1, 1, 1, 1)
            b = (b - m) * s + beta
        self.out[name + ".weight"] = w.float()
        self.out[name + ".bias"] = b.float()

    def concat(self, name, convs):
        ws = [self.take(c + ".weight") for c in convs]
        bs = [self.take(c + ".bias") for c in convs]
        self.out[name + ".weight"] = torch.cat(ws, 0).float()
        self.out[name + ".bias"] = torch.cat(bs, 0).float()

    def finish(self):
        left = sorted(set(self.state) - self.used)
        if left:
            raise ConvertError(f"{len(left)} tensors not used (not this architecture?): {', '.join(left[:6])}")
        return self.out


def convert(state, kind, width_div=1):
    """Official state dict -> {name: float32 tensor} of the project layout."""
    f = _Folder(_clean(state))
    if kind == "retinaface":
        f.conv("body.conv1", "body.conv1", "body.bn1")
        for s, n in enumerate((3, 4, 6, 3)):
            for i in range(n):
                p = f"body.layer{s + 1}.{i}"
                for j in (1, 2, 3):
                    f.conv(f"{p}.conv{j}", f"{p}.conv{j}", f"{p}.bn{j}")
                if i == 0:
                    f.conv(f"{p}.downsample", f"{p}.downsample.0", f"{p}.downsample.1")
        for j in (1, 2, 3):
            f.conv(f"fpn.output{j}", f"fpn.output{j}.0", f"fpn.output{j}.1")
        for j in (1, 2):
            f.conv(f"fpn.merge{j}", f"fpn.merge{j}.0", f"fpn.merge{j}.1")
        for l in (1, 2, 3):
            for c in ("conv3X3", "conv5X5_1", "conv5X5_2", "conv7X7_2", "conv7x7_3"):
                f.conv(f"ssh{l}.{c}", f"ssh{l}.{c}.0", f"ssh{l}.{c}.1")
            f.concat(f"head{l - 1}", [f"{h}.{l - 1}.conv1x1" for h in ("ClassHead", "BboxHead", "LandmarkHead")])
    elif kind == "parsenet":
        f.conv("encoder.0", "encoder.0.conv2d")
        groups = {"encoder": range(1, 5), "body": range(10), "decoder": range(4)}
        for g, idx in groups.items():
            for i in idx:
                p = f"{g}.{i}"
                for j in (1, 2):
                    f.conv(f"{p}.conv{j}", f"{p}.conv{j}.conv2d", f"{p}.conv{j}.norm.norm")
                if p + ".shortcut_func.conv2d.weight" in f.state:
                    f.conv(f"{p}.shortcut", f"{p}.shortcut_func.conv2d")
        f.concat("out", ["out_img_conv.conv2d", "out_mask_conv.conv2d"])
    else:
        raise ConvertError(f"unknown network {kind!r} (retinaface or parsenet)")
    return f.finish()


def selftest():
    import pipe_torch as pt
    ok = True
    for kind, net, x in (("retinaface", pt.RetinaFace(8), torch.rand(1, 3, 64, 64)),
                         ("parsenet", pt.ParseNet(8), torch.rand(1, 3, 32, 32))):
        pt.randomise(net, 5, kind)
        out = convert({"module." + k: v for k, v in net.state_dict().items()}, kind)
        # one folded conv against its module pair
        if kind == "retinaface":
            ref = net.body.bn1(net.body.conv1(x))
            got = torch.nn.functional.conv2d(x, out["body.conv1.weight"], out["body.conv1.bias"], 2, 3)
        else:
            c = net.encoder[1].conv1
            xp = torch.nn.functional.pad(net.encoder[0](x), [1] * 4, mode="reflect")
            ref = c.norm.norm(c.conv2d(xp))
            got = torch.nn.functional.conv2d(xp, out["encoder.1.conv1.weight"], out["encoder.1.conv1.bias"])
        err = float((got - ref).norm() / ref.norm())
        good = err < 1e-5
        ok &= good
        print(f"convert selftest {kind}: {len(out)} tensors, fold rel err {err:.2e}: {'PASS' if good else 'FAIL'}")
    try:
        convert({"x.weight": torch.zeros(1)}, "parsenet")
        ok = False
        print("convert selftest: a foreign state dict was accepted: FAIL")
    except ConvertError as e:
        print(f"convert selftest: foreign state dict refused ({e}): PASS")
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("net", nargs="?", choices=["retinaface", "parsenet"])
    p.add_argument("checkpoint", nargs="?")
    p.add_argument("out", nargs="?")
    p.add_argument("--selftest", action="store_true")
    a = p.parse_args()
    if a.selftest:
        sys.exit(0 if selftest() else 1)
    if not (a.net and a.checkpoint and a.out):
        p.error("net, checkpoint and out are required")
    try:
        out = convert(torch.load(a.checkpoint, map_location="cpu"), a.net)
    except ConvertError as e:
        sys.exit(f"convert_pipeline_checkpoint: {a.checkpoint}: {e}")
    gt.save_safetensors(a.out, out, {"format": FORMAT, "net": a.net, "width_div": 1, "source": a.checkpoint})
    print(f"wrote {a.out}: {len(out) // 2} convolutions, {sum(t.numel() for t in out.values())} parameters")


if __name__ == "__main__":
    main()
