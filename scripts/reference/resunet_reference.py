#!/usr/bin/python3
"""Plain-PyTorch port of the GTGM reference code's fine-tuning network ResUNet (run with /usr/bin/python3,
torch 1.13), for tests/models/test_resunet_decoder.cpp.

Ported as they are, from the reference repository (github.com/ydchen0806/GTGM):
  finetune/utils_resnet3d.py  ResNet3d, Bottleneck, conv1x1, conv3x3 (lines 6-192); the only change is
                              a `base` argument for the hard-coded width 64 (self.inplanes = 64 and the
                              planes 64/128/256/512 of _make_layer) so a tiny instance exists.
  finetune/resunet.py         ResUNet (lines 8-110) with the pretrained-weight loading left out (cfg.pretrained
                              False) and the hard-coded channels 2048/1024/512/256/64 written as the encoder's
                              widths (16*base, 8*base, 4*base, 2*... as resnet50 gives them for base 64).
                              forward returns the logits before the final torch.sigmoid as well.

Writes tests/data/models/resunet_tiny.pt: "state.<gtgm key>" tensors (the reference's keys renamed:
encoder1.0 -> encoder.conv1, encoder1.1 -> encoder.bn1, encoder2..5 -> encoder.layer1..4, upconvK /
decoderK -> decoder.upconvK / decoder.decoderK, output -> head.out), the input and the eval-mode
logits; and center_crop_padding on three shape pairs (ccp<i>_x, ccp<i>_y, ccp<i>_out).
"""
import os

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "models")


# ---- finetune/utils_resnet3d.py ---------------------------------------------------------------------
def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv3d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    return nn.Conv3d(in_planes, out_planes, kernel_size=3, stride=stride,
                     padding=dilation, groups=groups, bias=False, dilation=dilation)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1,
                 base_width=64, dilation=1, norm_layer=None):
        super(Bottleneck, self).__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm3d
        width = int(planes * (base_width / 64.)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu(out)
        out = self.conv3(out)
        out = self.bn3(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu(out)
        return out


class ResNet3d(nn.Module):
    def __init__(self, block, layers, num_classes=400, base=64):
        super(ResNet3d, self).__init__()
        norm_layer = nn.BatchNorm3d
        self._norm_layer = norm_layer
        self.inplanes = base
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        self.conv1 = nn.Conv3d(1, self.inplanes, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3),
                               bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=(3, 3, 3), stride=(1, 2, 2), padding=(1, 1, 1))
        self.layer1 = self._make_layer(block, base, layers[0])
        self.layer2 = self._make_layer(block, base * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, base * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, base * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(base * 8 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers = []
        layers.append(block(self.inplanes, planes, stride, downsample, self.groups,
                            self.base_width, previous_dilation, norm_layer))
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)


def resnet50(base=64):
    return ResNet3d(Bottleneck, [3, 4, 6, 3], base=base)


# ---- finetune/resunet.py ----------------------------------------------------------------------------
class ResUNet(nn.Module):
    def __init__(self, input_channel=1, input_size=(64, 64, 64), out_channels=14, base=64):
        super(ResUNet, self).__init__()
        resnet = resnet50(base)
        self.input_channel = input_channel
        self.output_channel = out_channels
        c0, c1, c2, c3, c4 = base, 4 * base, 8 * base, 16 * base, 32 * base  # 64, 256, 512, 1024, 2048
        if self.input_channel != 1:
            resnet.conv1 = nn.Conv3d(self.input_channel, c0, kernel_size=(3, 7, 7), stride=(1, 2, 2),
                                     padding=(1, 3, 3), bias=False)
        resnet.fc = nn.Identity()
        self.encoder1 = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.encoder2 = resnet.layer1
        self.encoder3 = resnet.layer2
        self.encoder4 = resnet.layer3
        self.encoder5 = resnet.layer4

        self.upconv4 = nn.ConvTranspose3d(c4, c3, kernel_size=2, stride=2)
        self.decoder4 = nn.Sequential(nn.Conv3d(c3, c3, kernel_size=3, padding=1), nn.ReLU(),
                                      nn.Conv3d(c3, c3, kernel_size=3, padding=1), nn.ReLU())
        self.upconv3 = nn.ConvTranspose3d(c3, c2, kernel_size=2, stride=2)
        self.decoder3 = nn.Sequential(nn.Conv3d(c2, c2, kernel_size=3, padding=1), nn.ReLU(),
                                      nn.Conv3d(c2, c2, kernel_size=3, padding=1), nn.ReLU())
        self.upconv2 = nn.ConvTranspose3d(c2, c1, kernel_size=2, stride=2)
        self.decoder2 = nn.Sequential(nn.Conv3d(c1, c1, kernel_size=3, padding=1), nn.ReLU(),
                                      nn.Conv3d(c1, c1, kernel_size=3, padding=1), nn.ReLU())
        self.upconv1 = nn.ConvTranspose3d(c1, c0, kernel_size=(3, 7, 7), stride=(1, 1, 1), padding=(1, 3, 3))
        self.adapool = nn.AdaptiveAvgPool3d(input_size)
        self.decoder1 = nn.Sequential(nn.Conv3d(c0, c0, kernel_size=3, padding=1), nn.ReLU(),
                                      nn.Conv3d(c0, c0, kernel_size=3, padding=1), nn.ReLU())
        self.output = nn.Conv3d(c0, self.output_channel, kernel_size=1)

    def center_crop_padding(self, x, y):
        _, _, d, h, w = x.shape
        _, _, td, th, tw = y.shape
        if d == td and h == th and w == tw:
            return x + y
        elif d < td or h < th or w < tw:
            d1 = (td - d) // 2
            d2 = td - d - d1
            h1 = (th - h) // 2
            h2 = th - h - h1
            w1 = (tw - w) // 2
            w2 = tw - w - w1
            x = nn.functional.pad(x, [w1, w2, h1, h2, d1, d2])
            return x + y
        elif d > td or h > th or w > tw:
            d1 = (d - td) // 2
            d2 = d - td - d1
            h1 = (h - th) // 2
            h2 = h - th - h1
            w1 = (w - tw) // 2
            w2 = w - tw - w1
            x = x[:, :, d1:d - d2, h1:h - h2, w1:w - w2]
            return x + y

    def logits(self, x):
        x1 = self.encoder1(x)
        x2 = self.encoder2(x1)
        x3 = self.encoder3(x2)
        x4 = self.encoder4(x3)
        x5 = self.encoder5(x4)
        x = self.center_crop_padding(self.upconv4(x5), x4)
        x = self.decoder4(x)
        x = self.center_crop_padding(self.upconv3(x), x3)
        x = self.decoder3(x)
        x = self.center_crop_padding(self.upconv2(x), x2)
        x = self.decoder2(x)
        x = self.center_crop_padding(self.upconv1(x), x1)
        x = self.adapool(x)
        x = self.decoder1(x)
        return self.output(x)

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


def gtgm_key(k):
    for a, b in (("encoder1.0.", "encoder.conv1."), ("encoder1.1.", "encoder.bn1."), ("encoder2.", "encoder.layer1."),
                 ("encoder3.", "encoder.layer2."), ("encoder4.", "encoder.layer3."), ("encoder5.", "encoder.layer4."),
                 ("output.", "head.out.")):
        if k.startswith(a):
            return b + k[len(a):]
    return "decoder." + k


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(14)
    size = (8, 32, 64)
    m = ResUNet(input_channel=2, input_size=size, out_channels=3, base=2)
    for p in m.parameters():
        # 1 / sqrt(numel of one output slice) keeps the logits O(1) through the norm-free decoder.
        scale = (1.0 / max(1, p[0].numel())) ** 0.5 if p.dim() > 1 else 0.1
        p.data = torch.randn(p.shape, generator=gen) * scale
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm3d):
            n = mod.num_features
            mod.weight.data = torch.rand(n, generator=gen) + 0.5
            mod.bias.data = torch.randn(n, generator=gen) * 0.1
            mod.running_mean = torch.randn(n, generator=gen) * 0.1
            mod.running_var = torch.rand(n, generator=gen) + 0.5
    m.eval()
    x = torch.randn(1, 2, *size, generator=gen)
    with torch.no_grad():
        logits = m.logits(x)
    blob = {"state." + gtgm_key(k): v.clone() for k, v in m.state_dict().items()}
    blob["input"] = x
    blob["logits"] = logits
    print("logits", tuple(logits.shape), "sum %.6f" % logits.sum().item(), "absmax %.4f" % logits.abs().max().item())
    # center_crop_padding: equal, one axis smaller (pad; another larger gets a negative pad), all larger (crop).
    cases = [((1, 2, 2, 3, 4), (1, 2, 2, 3, 4)), ((1, 2, 3, 2, 5), (1, 2, 2, 5, 4)), ((1, 2, 5, 4, 6), (1, 2, 2, 3, 3))]
    for i, (sx, sy) in enumerate(cases):
        a = torch.randn(*sx, generator=gen)
        b = torch.randn(*sy, generator=gen)
        blob[f"ccp{i}_x"], blob[f"ccp{i}_y"], blob[f"ccp{i}_out"] = a, b, m.center_crop_padding(a, b)
    torch.save(blob, os.path.join(OUT, "resunet_tiny.pt"))
    print("wrote", os.path.join(OUT, "resunet_tiny.pt"), len(blob), "entries")


if __name__ == "__main__":
    main()
