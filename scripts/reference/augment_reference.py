#!/usr/bin/env python3
"""Golden two-view values for tests/data/test_augment_reference.cpp (data.pretrain_augment.views: reference).

Ported as they are from ydchen0806/GTGM (read from the mirror's HEAD):
  pretrain/utils/augmentation.py:18-38            produce_simple_aug
  pretrain/utils/augmentation.py:219-244          SimpleAugment (skip_ratio 0.5)
  pretrain/utils/consistency_aug_perturbations.py:16-31    simple_augment
                                                  :97-109  resize_3d
                                                  :111-121 add_gauss_noise
                                                  :123-132 add_gauss_blur
                                                  :234-252 Rescale
                                                  :255-262 Filp
                                                  :288-342 Intensity (mode 'mix', skip_ratio 0.5, factors 0.1)
                                                  :345-358 GaussBlur
                                                  :361-371 GaussNoise
  pretrain/dataloader/data_provider_pretraining_caption_match.py
                                                  :159-171 enabled perturbations (scale, flip always; intensity,
                                                           noise, blur from config/pretraining_all.yaml:99-101)
                                                  :255-273 one crop, simple_aug once, one perturbation per view, scaler
                                                  :328-332 scaler
                                                  :355-360 perturbations_init
                                                  :370-448 apply_perturbations (mode 1)

Fixed draws instead of np.random / random: `Scripted` replaces np.random.rand, np.random.randint,
np.random.normal, random.randint, random.uniform and random.choice with functions that return the
next scripted value (and check that it is one the real call could return). np.random.normal(0, std,
shape) returns std * Z with the fixed field Z[i] = 1.1 * sin(1.3 * i + 0.2) over the flat index i.

cv2 is not installed here (no network): `cv2` below is a stand-in for the two OpenCV functions the
reference calls, written from OpenCV's own definitions (modules/imgproc/src/resize.cpp, smooth.dispatch.cpp):
  - cv2.resize(..., INTER_LINEAR) on float32: separable linear interpolation, source coordinate
    (dst + 0.5) * src / dst - 0.5, index floored and clamped to [0, src - 1] (weight 0 past the edge);
    OpenCV's exact-2x INTER_AREA shortcut gives the same values.
  - cv2.GaussianBlur(img, (k, k), sigma): separable, kernel getGaussianKernel(k, sigma) (exp(-x^2 / (2 sigma^2))
    normalised; sigma <= 0: OpenCV's fixed 3/5/7-tap tables, else 0.3 * ((k - 1) * 0.5 - 1) + 0.8), border
    BORDER_REFLECT_101 (= scipy.ndimage mode 'mirror').

Run: /usr/bin/python3 scripts/reference/augment_reference.py > tests/data/augment_reference_golden.h
"""
import math
import random

import numpy as np
import scipy.ndimage


class cv2:  # stand-in, see the module docstring
    INTER_NEAREST = 0
    INTER_LINEAR = 1
    _FIXED = {1: [1.0], 3: [0.25, 0.5, 0.25], 5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
              7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125]}

    @staticmethod
    def _linear_axis(a, n_out, axis):
        n_in = a.shape[axis]
        scale = n_in / n_out
        out_idx0, out_idx1, out_w = [], [], []
        for d in range(n_out):
            f = (d + 0.5) * scale - 0.5
            s = math.floor(f)
            f -= s
            if s < 0:
                f, s = 0.0, 0
            if s >= n_in - 1:
                f, s = 0.0, n_in - 1
            out_idx0.append(s)
            out_idx1.append(min(s + 1, n_in - 1))
            out_w.append(f)
        w = np.asarray(out_w, dtype=np.float64)
        shape = [1, 1]
        shape[axis] = n_out
        w = w.reshape(shape)
        return np.take(a, out_idx0, axis=axis) * (1 - w) + np.take(a, out_idx1, axis=axis) * w

    @staticmethod
    def resize(img, dsize, interpolation):
        assert interpolation == cv2.INTER_LINEAR
        width, height = dsize
        a = img.astype(np.float64)
        a = cv2._linear_axis(a, width, 1)
        a = cv2._linear_axis(a, height, 0)
        return a.astype(np.float32)

    @staticmethod
    def _kernel(k, sigma):
        if sigma <= 0 and k in cv2._FIXED:
            t = np.asarray(cv2._FIXED[k], dtype=np.float64)
        else:
            s = sigma if sigma > 0 else ((k - 1) * 0.5 - 1) * 0.3 + 0.8
            x = np.arange(k, dtype=np.float64) - (k - 1) * 0.5
            t = np.exp(-0.5 / (s * s) * x * x)
        return t / t.sum()

    @staticmethod
    def GaussianBlur(img, ksize, sigma):
        kx, ky = ksize
        a = img.astype(np.float64)
        a = scipy.ndimage.correlate1d(a, cv2._kernel(kx, sigma), axis=1, mode="mirror")
        a = scipy.ndimage.correlate1d(a, cv2._kernel(ky, sigma), axis=0, mode="mirror")
        return a.astype(np.float32)


# ---------------------------------------------------------------- pretrain/utils/augmentation.py (as it is)
def produce_simple_aug(data, rule):
    assert data.ndim == 3 and len(rule) == 4
    # z reflection.
    if rule[0]:
        data = data[::-1, :, :]
    # x reflection.
    if rule[1]:
        data = data[:, :, ::-1]
    # y reflection.
    if rule[2]:
        data = data[:, ::-1, :]
    # Transpose in xy.
    if rule[3]:
        data = data.transpose(0, 2, 1)
    return data


class SimpleAugment(object):
    def __init__(self, skip_ratio=0.5):
        super(SimpleAugment, self).__init__()
        self.ratio = skip_ratio

    def __call__(self, inputs):
        return self.forward(inputs)

    def forward(self, inputs):
        skiprand = np.random.rand()
        if skiprand < self.ratio:
            rule = np.random.randint(2, size=4)
            for idx in range(len(inputs)):
                inputs[idx] = produce_simple_aug(inputs[idx], rule)
            return inputs
        else:
            return inputs


# ---------------------------------------------------------------- consistency_aug_perturbations.py (as it is)
def simple_augment(data, rule):
    assert np.size(rule) == 4
    assert data.ndim == 3
    # z reflection
    if rule[0]:
        data = data[::-1, :, :]
    # x reflection
    if rule[1]:
        data = data[:, :, ::-1]
    # y reflection
    if rule[2]:
        data = data[:, ::-1, :]
    # transpose in xy
    if rule[3]:
        data = np.transpose(data, (0, 2, 1))
    return data


def resize_3d(imgs, det_size, mode='linear'):
    new_imgs = []
    for k in range(imgs.shape[0]):
        temp = imgs[k]
        if mode == 'linear':
            temp = cv2.resize(temp, (det_size, det_size), interpolation=cv2.INTER_LINEAR)
        elif mode == 'nearest':
            temp = cv2.resize(temp, (det_size, det_size), interpolation=cv2.INTER_NEAREST)
        else:
            raise AttributeError('No this interpolation mode!')
        new_imgs.append(temp)
    new_imgs = np.asarray(new_imgs)
    return new_imgs


def add_gauss_noise(imgs, std=0.01, norm_mode='norm'):
    gaussian = np.random.normal(0, std, (imgs.shape))
    imgs = imgs + gaussian
    if norm_mode == 'norm':
        imgs = (imgs-np.min(imgs)) / (np.max(imgs)-np.min(imgs))
    elif norm_mode == 'trunc':
        imgs[imgs<0] = 0
        imgs[imgs>1] = 1
    else:
        raise NotImplementedError
    return imgs


def add_gauss_blur(imgs, kernel_size=5, sigma=0):
    outs = []
    for k in range(imgs.shape[0]):
        temp = imgs[k]
        temp = cv2.GaussianBlur(temp, (kernel_size,kernel_size), sigma)
        outs.append(temp)
    outs = np.asarray(outs, dtype=np.float32)
    outs[outs < 0] = 0
    outs[outs > 1] = 1
    return outs


class Rescale(object):
    def __init__(self, scale_factor=2, det_shape=[18, 160, 160]):
        super(Rescale, self).__init__()
        self.scale_factor = scale_factor
        self.det_shape = det_shape

    def __call__(self, data):
        src_shape = data.shape
        assert src_shape[-1] >= self.det_shape[-1] * self.scale_factor, 'data shape must be 160*2'
        min_size = self.det_shape[-1] // self.scale_factor
        max_size = self.det_shape[-1] * self.scale_factor
        scale_size = random.randint(min_size // 2, max_size // 2)
        scale_size = scale_size * 2

        if scale_size < src_shape[-1]:
            shift = (src_shape[-1] - scale_size) // 2
            data = data[:, shift:-shift, shift:-shift]
        data = resize_3d(data, self.det_shape[-1], mode='linear')
        return data, scale_size


class Filp(object):
    def __init__(self):
        super(Filp, self).__init__()

    def __call__(self, data):
        rule = np.random.randint(2, size=4)
        data = simple_augment(data, rule)
        return data, rule


class Intensity(object):
    def __init__(self, mode='mix',
                        skip_ratio=0.5,
                        CONTRAST_FACTOR=0.1,
                        BRIGHTNESS_FACTOR=0.1):
        super(Intensity, self).__init__()
        assert mode == '3D' or mode == '2D' or mode == 'mix'
        self.mode = mode
        self.ratio = skip_ratio
        self.CONTRAST_FACTOR = CONTRAST_FACTOR
        self.BRIGHTNESS_FACTOR = BRIGHTNESS_FACTOR

    def __call__(self, inputs):
        return self.forward(inputs)

    def forward(self, inputs):
        inputs = inputs.copy()
        skiprand = np.random.rand()
        if self.mode == 'mix':
            # The probability of '2D' is more than '3D'
            threshold = 1 - (1 - self.ratio) / 2
            mode_ = '3D' if skiprand > threshold else '2D'
        else:
            mode_ = self.mode
        if mode_ == '2D':
            inputs = self.augment2D(inputs)
        elif mode_ == '3D':
            inputs = self.augment3D(inputs)
        inputs[inputs<0] = 0
        inputs[inputs>1] = 1
        return inputs

    def augment2D(self, imgs):
        for z in range(imgs.shape[-3]):
            img = imgs[z, :, :]
            img *= 1 + (np.random.rand() - 0.5)*self.CONTRAST_FACTOR
            img += (np.random.rand() - 0.5)*self.BRIGHTNESS_FACTOR
            img = np.clip(img, 0, 1)
            img **= 2.0**(np.random.rand()*2 - 1)
            imgs[z, :, :] = img
        return imgs

    def augment3D(self, imgs):
        imgs *= 1 + (np.random.rand() - 0.5)*self.CONTRAST_FACTOR
        imgs += (np.random.rand() - 0.5)*self.BRIGHTNESS_FACTOR
        imgs = np.clip(imgs, 0, 1)
        imgs **= 2.0**(np.random.rand()*2 - 1)
        return imgs


class GaussBlur(object):
    def __init__(self, min_kernel=3, max_kernel=9, min_sigma=0, max_sigma=2):
        super(GaussBlur, self).__init__()
        self.min_kernel = min_kernel
        self.max_kernel = max_kernel
        self.min_sigma = min_sigma
        self.max_sigma = max_sigma

    def __call__(self, data):
        kernel_size = random.randint(self.min_kernel // 2, self.max_kernel // 2)
        kernel_size = kernel_size * 2 + 1
        sigma = random.uniform(self.min_sigma, self.max_sigma)
        data = add_gauss_blur(data, kernel_size=kernel_size, sigma=sigma)
        return data


class GaussNoise(object):
    def __init__(self, min_std=0.01, max_std=0.2, norm_mode='trunc'):
        super(GaussNoise, self).__init__()
        self.min_std = min_std
        self.max_std = max_std
        self.norm_mode = norm_mode

    def __call__(self, data):
        std = random.uniform(self.min_std, self.max_std)
        data = add_gauss_noise(data, std=std, norm_mode=self.norm_mode)
        return data


# ------------------------------------------- data_provider_pretraining_caption_match.py (the parts that run)
class Train(object):
    def __init__(self, crop_size, sub_padding, scale_factor=1.5):
        self.crop_size = crop_size          # [24, 224, 224] for ResUNet (:106-108); small here
        self.sub_padding = sub_padding      # [0, 80, 80] (:202); small here
        self.crop_from_origin = [self.crop_size[i] + 2*self.sub_padding[i] for i in range(len(self.sub_padding))]
        self.per_mode = 1                   # config/pretraining_all.yaml:95
        self.simple_aug = SimpleAugment()
        self.scale_factor = scale_factor    # config/pretraining_all.yaml:80
        self.if_scale_aug = True            # :161
        self.if_filp_aug = True             # :163
        self.if_rotation_aug = False        # :164
        self.if_intensity_aug = True        # config/pretraining_all.yaml:99
        self.if_elastic_aug = False
        self.if_noise_aug = True            # config/pretraining_all.yaml:100
        self.min_noise_std = 0.01           # config/pretraining_all.yaml:86-87
        self.max_noise_std = 0.2
        self.if_mask_aug = False
        self.if_blur_aug = True             # config/pretraining_all.yaml:101
        self.min_kernel_size = 3            # config/pretraining_all.yaml:90-93
        self.max_kernel_size = 9
        self.min_sigma = 0
        self.max_sigma = 2
        self.if_sobel_aug = False
        self.if_mixup_aug = False
        self.if_misalign_aug = False
        self.if_artifact_aug = False
        self.if_missing_aug = False
        self.if_blurenhanced_aug = False
        self.perturbations_init()

    def views(self, used_data):
        """__getitem__ lines 252-273 (the volume is already read and in range)."""
        self.raw_data_shape = list(used_data.shape)
        random_z = random.randint(0, self.raw_data_shape[0]-self.crop_from_origin[0])
        random_y = random.randint(0, self.raw_data_shape[1]-self.crop_from_origin[1])
        random_x = random.randint(0, self.raw_data_shape[2]-self.crop_from_origin[2])
        imgs = used_data[random_z:random_z+self.crop_from_origin[0], \
                        random_y:random_y+self.crop_from_origin[1], \
                        random_x:random_x+self.crop_from_origin[2]].copy()
        imgs = imgs.astype(np.float32) / 255.0
        [imgs] = self.simple_aug([imgs])
        imgs1, _, _, _ = self.apply_perturbations(imgs, None, mode=self.per_mode)
        imgs2, _, _, _ = self.apply_perturbations(imgs, None, mode=self.per_mode)
        imgs1 = self.scaler(imgs1)
        imgs2 = self.scaler(imgs2)
        return imgs1, imgs2

    def scaler(self, img):
        img = (img - np.min(img)) / (np.max(img) - np.min(img))
        return img

    def perturbations_init(self):
        self.per_rescale = Rescale(scale_factor=self.scale_factor, det_shape=self.crop_size)
        self.per_flip = Filp()
        self.per_intensity = Intensity()
        self.per_gaussnoise = GaussNoise(min_std=self.min_noise_std, max_std=self.max_noise_std, norm_mode='trunc')
        self.per_gaussblur = GaussBlur(min_kernel=self.min_kernel_size, max_kernel=self.max_kernel_size, min_sigma=self.min_sigma, max_sigma=self.max_sigma)

    def apply_perturbations(self, data, auxi=None, mode=1):
        all_pers = [self.if_scale_aug, self.if_filp_aug, self.if_rotation_aug, self.if_intensity_aug, \
                    self.if_noise_aug, self.if_blur_aug, self.if_mask_aug, self.if_sobel_aug, \
                    self.if_mixup_aug, self.if_misalign_aug, self.if_elastic_aug, self.if_artifact_aug, \
                    self.if_missing_aug, self.if_blurenhanced_aug]
        if mode == 1:
            used_pers = []
            for k, value in enumerate(all_pers):
                if value:
                    used_pers.append(k)
            if len(used_pers) == 0:
                data = data[:, self.sub_padding[-1]:-self.sub_padding[-1], self.sub_padding[-1]:-self.sub_padding[-1]]
                scale_size = data.shape[-1]
                rule = np.asarray([0,0,0,0], dtype=np.int32)
                rotnum = 0
                return data, scale_size, rule, rotnum
            elif len(used_pers) == 1:
                rand_per = used_pers[0]
            else:
                rand_per = random.choice(used_pers)
            if rand_per == 0:
                data, scale_size = self.per_rescale(data)
            else:
                data = data[:, self.sub_padding[-1]:-self.sub_padding[-1], self.sub_padding[-1]:-self.sub_padding[-1]]
                scale_size = data.shape[-1]
            if rand_per == 1:
                data, rule = self.per_flip(data)
            else:
                rule = np.asarray([0,0,0,0], dtype=np.int32)
            if rand_per == 2:
                rotnum = random.randint(0, 3)
                data = np.rot90(data, k=rotnum, axes=(1,2))
            else:
                rotnum = 0
            if rand_per == 3:
                data = self.per_intensity(data)
            if rand_per == 4:
                data = self.per_gaussnoise(data)
            if rand_per == 5:
                data = self.per_gaussblur(data)
        else:
            raise NotImplementedError
        return data, scale_size, rule, rotnum


# ---------------------------------------------------------------- fixed draws
class Scripted:
    """Replaces the random calls the code above makes with scripted values, in call order."""

    def __init__(self, items):
        self.items = list(items)

    def _next(self, kind):
        assert self.items, "script ran out at a %s call" % kind
        k, v = self.items.pop(0)
        assert k == kind, "script expected %s, the code called %s" % (k, kind)
        return v

    def install(self):
        np.random.rand = lambda: self._check(self._next("rand"), lambda v: 0 <= v < 1)
        np.random.randint = lambda n, size: np.asarray(self._next("rule"), dtype=np.int64)
        np.random.normal = lambda loc, scale, shape: loc + scale * noise_field(shape)
        random.randint = lambda a, b: self._check(self._next("randint"), lambda v: a <= v <= b)
        random.uniform = lambda a, b: self._check(self._next("uniform"), lambda v: a <= v <= b)
        random.choice = lambda seq: self._check(self._next("choice"), lambda v: v in seq)

    @staticmethod
    def _check(v, ok):
        assert ok(v), "scripted value %r is not one the call can return" % (v,)
        return v


def noise_field(shape):
    n = int(np.prod(shape))
    return (1.1 * np.sin(1.3 * np.arange(n, dtype=np.float64) + 0.2)).reshape(shape)


D, H, W = 5, 14, 14
CROP = [2, 6, 6]
PAD = [0, 3, 3]
VOLUME = ((np.arange(D * H * W, dtype=np.int64) * 37 + 11) % 256).astype(np.uint8).reshape(D, H, W)

# Per view: ("rescale", s) | ("flip", rule) | ("intensity3d", (u1, u2, u3)) | ("intensity2d", [(u1, u2, u3)] * D)
#           | ("noise", std) | ("blur", k, sigma). Shared: None (skiprand 0.6) or a rule (skiprand 0.2).
CASES = [
    ("noise_intensity3d", (0, 1, 2), [1, 0, 1, 1], ("intensity3d", (0.2, 0.7, 0.35)), ("noise", 0.07)),
    ("rescale_up_down", (3, 2, 0), None, ("rescale", 4), ("rescale", 8)),
    ("flip_blur5", (1, 0, 2), [0, 1, 0, 0], ("flip", [1, 1, 1, 1]), ("blur", 5, 0.8)),
    ("intensity2d_blur9", (2, 2, 2), [1, 1, 0, 1], ("intensity2d", [(0.1, 0.9, 0.95), (0.8, 0.05, 0.02)]),
     ("blur", 9, 1.7)),
    ("rescale_same_blur3_sigma0", (0, 0, 0), [0, 0, 1, 0], ("rescale", 6), ("blur", 3, 0.0)),
    ("noise_clipped_flip", (3, 1, 1), [1, 1, 1, 1], ("noise", 0.2), ("flip", [0, 1, 1, 0])),
]

KIND_INDEX = {"rescale": 0, "flip": 1, "intensity3d": 3, "intensity2d": 3, "noise": 4, "blur": 5}


def script_for(corner, shared, views):
    s = [("randint", corner[0]), ("randint", corner[1]), ("randint", corner[2])]
    if shared is None:
        s.append(("rand", 0.6))
    else:
        s += [("rand", 0.2), ("rule", shared)]
    for v in views:
        s.append(("choice", KIND_INDEX[v[0]]))
        if v[0] == "rescale":
            s.append(("randint", v[1] // 2))
        elif v[0] == "flip":
            s.append(("rule", v[1]))
        elif v[0] == "intensity3d":
            s += [("rand", 0.9)] + [("rand", u) for u in v[1]]
        elif v[0] == "intensity2d":
            s.append(("rand", 0.3))
            for triple in v[1]:
                s += [("rand", u) for u in triple]
        elif v[0] == "noise":
            s.append(("uniform", v[1]))
        elif v[0] == "blur":
            s += [("randint", v[1] // 2), ("uniform", v[2])]
    return s


def cpp_view(v):
    kind = v[0]
    if kind == "rescale":
        return "{Kind::Rescale, %d, {}, {}, 0.0, 0, 0.0, false, {}}" % v[1]
    if kind == "flip":
        return "{Kind::Flip, 0, {%s}, {}, 0.0, 0, 0.0, false, {}}" % ", ".join("true" if r else "false" for r in v[1])
    if kind.startswith("intensity"):
        triples = [v[1]] if kind == "intensity3d" else v[1]
        # Intensity.augment3D/augment2D: contrast 1 + (u - 0.5) * 0.1, brightness (u - 0.5) * 0.1, gamma 2^(2u - 1).
        vals = ", ".join("{%.17g, %.17g, %.17g}" % (1 + (a - 0.5) * 0.1, (b - 0.5) * 0.1, 2.0 ** (c * 2 - 1))
                         for a, b, c in triples)
        return "{Kind::Intensity, 0, {}, {%s}, 0.0, 0, 0.0, %s, {}}" % (vals, "true" if kind == "intensity3d" else "false")
    if kind == "noise":
        return "{Kind::Noise, 0, {}, {}, %.17g, 0, 0.0, false, {}}" % v[1]
    if kind == "blur":
        return "{Kind::Blur, 0, {}, {}, 0.0, %d, %.17g, false, {}}" % (v[1], v[2])
    raise ValueError(kind)


def main():
    print("// Printed by scripts/reference/augment_reference.py (the GTGM reference's view pipeline on fixed draws;")
    print("// see that script for the source files and lines). Do not edit by hand.")
    print("// Volume: ((i * 37 + 11) %% 256) / 255 over the flat index i of a %dx%dx%d volume; crop %s, context %d;" %
          (D, H, W, CROP, PAD[1]))
    print("// noise field Z[i] = 1.1 * sin(1.3 * i + 0.2) over the flat index of a view.")
    print("// Case fields: name, corner, shared rule (all false = not applied), view draws (kind, scale_size, rule,")
    print("// intensity {contrast, brightness, gamma}..., noise_std, blur_kernel, blur_sigma, intensity_3d), views.")
    print("#pragma once")
    print("namespace golden_ref_views {")
    print("using ViewDraws = gtgm::data::RefViewDraws;")
    print("using Kind = gtgm::data::RefPerturbation;")
    print("constexpr int kD = %d, kH = %d, kW = %d, kCropD = %d, kCropHW = %d, kContext = %d;" %
          (D, H, W, CROP[0], CROP[1], PAD[1]))
    print("struct Case {")
    print("  const char* name;")
    print("  std::array<int64_t, 3> corner;")
    print("  std::array<bool, 4> shared;")
    print("  std::array<ViewDraws, 2> views;")
    print("  std::vector<double> view1, view2;")
    print("};")
    print("inline std::vector<Case> cases() {")
    print("  return {")
    for name, corner, shared, v1, v2 in CASES:
        Scripted(script_for(corner, shared, [v1, v2])).install()
        t = Train(CROP, PAD, scale_factor=1.5)
        a, b = t.views(VOLUME)
        assert a.shape == tuple(CROP) and b.shape == tuple(CROP)
        rule = shared if shared is not None else [0, 0, 0, 0]
        print('    {"%s", {%d, %d, %d}, {%s},' % (name, corner[0], corner[1], corner[2],
                                                  ", ".join("true" if r else "false" for r in rule)))
        print("     {{%s, %s}}," % (cpp_view(v1), cpp_view(v2)))
        for arr in (a, b):
            vals = ["%.8f" % x for x in np.asarray(arr, dtype=np.float64).ravel()]
            lines = [", ".join(vals[i:i + 8]) for i in range(0, len(vals), 8)]
            print("     {" + (",\n      ".join(lines)) + "},")
        print("    },")
    print("  };")
    print("}")
    print("}  // namespace golden_ref_views")


if __name__ == "__main__":
    main()
