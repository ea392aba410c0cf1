#!/usr/bin/env python3
"""pipe_torch.py: PyTorch modules of the pipeline's other two networks, written from their
published architectures with the official parameter names (so that an official
state_dict loads into them strictly), and the goldens of tests/test_pipe_nets.c.

  RetinaFace-R50 (GPEN's face_detect, after biubug6/Pytorch_Retinaface, cfg_re50): a
    torchvision-style ResNet-50 body (conv1/bn1/layer1..4, Bottleneck stride on conv2)
    returning layer2..4, FPN(512/1024/2048 -> 256, ReLU), SSH(256) on each level, and per
    level 2-anchor ClassHead/BboxHead/LandmarkHead 1x1 convs.
  ParseNet (GPEN's face_parse, after PSFRGAN): ParseNet(512, 512, 32, 64, 19, bn,
    LeakyReLU(0.2), ch_range [32, 256]): reflect-padded 3x3 ConvLayers, residual blocks.

`width_div` narrows every channel count (tests only; 1 is the published network).

  pipe_torch.py golden DIR      writes DIR/{retinaface,parsenet}_w16.safetensors (weights
                                converted by convert_pipeline_checkpoint.py) and
                                DIR/{retinaface,parsenet}_w16_io.safetensors (input and the
                                output of the unfolded modules in float64, eval mode)
A dev-time tool (Debian's python3-torch is enough); CI reads the committed goldens.
"""
import argparse
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import gpen_torch as gt  # noqa: E402


# ------------------------------------------------------------------ RetinaFace-R50
def _bn(c):
    return nn.BatchNorm2d(c)


class Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride, down):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = _bn(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = _bn(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = _bn(planes * 4)
        self.downsample = nn.Sequential(nn.Conv2d(cin, planes * 4, 1, stride, bias=False),
                                        _bn(planes * 4)) if down else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet50Body(nn.Module):
    def __init__(self, wd):
        super().__init__()
        c = 64 // wd
        self.conv1 = nn.Conv2d(3, c, 7, 2, 3, bias=False)
        self.bn1 = _bn(c)
        cin = c
        for s, (n, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
            planes //= wd
            blocks = []
            for i in range(n):
                blocks.append(Bottleneck(cin, planes, 2 if (i == 0 and s > 0) else 1, i == 0))
                cin = planes * 4
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer1(x)
        c3 = self.layer2(x)
        c4 = self.layer3(c3)
        return c3, c4, self.layer4(c4)


def conv_bn(cin, cout, k, relu):
    mods = [nn.Conv2d(cin, cout, k, 1, k // 2, bias=False), _bn(cout)]
    if relu:
        mods.append(nn.LeakyReLU(0.0))  # leaky = 0 for 256 output channels
    return nn.Sequential(*mods)


class FPN(nn.Module):
    def __init__(self, cins, cout):
        super().__init__()
        for i, c in enumerate(cins):
            setattr(self, f"output{i + 1}", conv_bn(c, cout, 1, True))
        self.merge1 = conv_bn(cout, cout, 3, True)
        self.merge2 = conv_bn(cout, cout, 3, True)

    def forward(self, xs):
        o1, o2, o3 = self.output1(xs[0]), self.output2(xs[1]), self.output3(xs[2])
        o2 = self.merge2(o2 + F.interpolate(o3, size=o2.shape[2:], mode="nearest"))
        o1 = self.merge1(o1 + F.interpolate(o2, size=o1.shape[2:], mode="nearest"))
        return [o1, o2, o3]


class SSH(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv3X3 = conv_bn(cin, cout // 2, 3, False)
        self.conv5X5_1 = conv_bn(cin, cout // 4, 3, True)
        self.conv5X5_2 = conv_bn(cout // 4, cout // 4, 3, False)
        self.conv7X7_2 = conv_bn(cout // 4, cout // 4, 3, True)
        self.conv7x7_3 = conv_bn(cout // 4, cout // 4, 3, False)

    def forward(self, x):
        a = self.conv3X3(x)
        b1 = self.conv5X5_1(x)
        b = self.conv5X5_2(b1)
        c = self.conv7x7_3(self.conv7X7_2(b1))
        return F.relu(torch.cat([a, b, c], 1))


class Head(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1x1 = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.conv1x1(x)


class RetinaFace(nn.Module):
    """forward(x) -> per level [B, 32, h, w]: ClassHead (4) | BboxHead (8) | LandmarkHead (20)
    channels as the heads emit them before the official permute/view."""

    def __init__(self, wd=1):
        super().__init__()
        self.body = ResNet50Body(wd)
        c = 256 // wd
        self.fpn = FPN([512 // wd, 1024 // wd, 2048 // wd], c)
        for i in range(3):
            setattr(self, f"ssh{i + 1}", SSH(c, c))
        self.ClassHead = nn.ModuleList([Head(c, 4) for _ in range(3)])
        self.BboxHead = nn.ModuleList([Head(c, 8) for _ in range(3)])
        self.LandmarkHead = nn.ModuleList([Head(c, 20) for _ in range(3)])

    def forward(self, x):
        f = self.fpn(self.body(x))
        out = []
        for i in range(3):
            s = getattr(self, f"ssh{i + 1}")(f[i])
            out.append(torch.cat([self.ClassHead[i](s), self.BboxHead[i](s), self.LandmarkHead[i](s)], 1))
        return out


# ------------------------------------------------------------------ ParseNet
class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k=3, scale="none", norm=False, relu=False):
        super().__init__()
        self.scale, self.relu, self.pad = scale, relu, int(math.ceil((k - 1) / 2))
        self.conv2d = nn.Conv2d(cin, cout, k, 2 if scale == "down" else 1, bias=not norm)
        if norm:
            self.norm = nn.Module()
            self.norm.norm = _bn(cout)
        else:
            self.norm = None

    def forward(self, x):
        if self.scale == "up":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv2d(F.pad(x, [self.pad] * 4, mode="reflect"))
        if self.norm is not None:
            x = self.norm.norm(x)
        return F.leaky_relu(x, 0.2) if self.relu else x


class ResidualBlock(nn.Module):
    def __init__(self, cin, cout, scale="none"):
        super().__init__()
        self.shortcut_func = None if (scale == "none" and cin == cout) else ConvLayer(cin, cout, 3, scale)
        s1, s2 = {"down": ("none", "down"), "up": ("up", "none"), "none": ("none", "none")}[scale]
        self.conv1 = ConvLayer(cin, cout, 3, s1, norm=True, relu=True)
        self.conv2 = ConvLayer(cout, cout, 3, s2, norm=True)

    def forward(self, x):
        idt = x if self.shortcut_func is None else self.shortcut_func(x)
        return idt + self.conv2(self.conv1(x))


class ParseNet(nn.Module):
    """forward(x) -> [B, 22, S, S]: out_img_conv (3) | out_mask_conv (19)."""

    def __init__(self, wd=1, steps=4, depth=10):
        super().__init__()
        clip = lambda c: max(32 // wd, min(c, 256 // wd))  # noqa: E731
        base = 64 // wd
        enc = [ConvLayer(3, base, 3)]
        head = base
        for _ in range(steps):
            enc.append(ResidualBlock(clip(head), clip(head * 2), "down"))
            head *= 2
        self.encoder = nn.Sequential(*enc)
        self.body = nn.Sequential(*[ResidualBlock(clip(head), clip(head)) for _ in range(depth)])
        dec = []
        for _ in range(steps):
            dec.append(ResidualBlock(clip(head), clip(head // 2), "up"))
            head //= 2
        self.decoder = nn.Sequential(*dec)
        self.out_img_conv = ConvLayer(clip(head), 3)
        self.out_mask_conv = ConvLayer(clip(head), 19)

    def forward(self, x):
        feat = self.encoder(x)
        x = self.decoder(feat + self.body(feat))
        return torch.cat([self.out_img_conv(x), self.out_mask_conv(x)], 1)


# ------------------------------------------------------------------ goldens
def randomise(net, seed, name):
    """Deterministic weights (He-scaled) and BatchNorm statistics far from the identity,
    so that a wrong fold or a missed layer shows in the output."""
    g = torch.Generator().manual_seed(gt.rand_key(seed, name) & 0x7FFFFFFF)
    with torch.no_grad():
        for n, p in net.named_parameters():
            if p.dim() == 4:  # conv weights
                fan = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=g) * math.sqrt(1.0 / fan))
            elif p.dim() == 1 and n.endswith(".weight"):  # BN gamma
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for n, b in net.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(0.2 * torch.randn(b.shape, generator=g))
            elif n.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
    return net.eval()


def cmd_golden(a):
    import convert_pipeline_checkpoint as cv
    torch.manual_seed(0)
    for kind, net, shape in (("retinaface", RetinaFace(a.width_div), (2, 3, 64, 80)),
                             ("parsenet", ParseNet(a.width_div), (2, 3, 32, 32))):
        randomise(net, a.seed, kind)
        tag = f"{kind}_w{a.width_div}"
        state = {"module." + k: v for k, v in net.state_dict().items()}
        out = cv.convert(state, kind, a.width_div)
        gt.save_safetensors(f"{a.dir}/{tag}.safetensors", out,
                            {"format": cv.FORMAT, "net": kind, "width_div": a.width_div,
                             "source": "pipe_torch.py golden (random weights)"})
        g = torch.Generator().manual_seed(a.seed)
        x = torch.rand(shape, generator=g) * 2 - 1
        with torch.no_grad():
            y = net.double()(x.double())
        io = {"input": x}  # outputs stored as float32: the tests compare at 1e-5
        if kind == "retinaface":
            io.update({f"out{i}": t.float() for i, t in enumerate(y)})
        else:
            io["out"] = y.float()
        gt.save_safetensors(f"{a.dir}/{tag}_io.safetensors", io, {"net": kind, "width_div": a.width_div})
        print(f"{tag}: {len(out)} tensors, {sum(t.numel() for t in out.values())} parameters")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("golden")
    g.add_argument("dir")
    g.add_argument("--width-div", type=int, default=16)
    g.add_argument("--seed", type=int, default=gt.DEFAULT_SEED)
    a = p.parse_args()
    if a.cmd == "golden":
        cmd_golden(a)


if __name__ == "__main__":
    main()
