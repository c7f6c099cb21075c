"""StyleGAN3 synthesis network (Alias-Free GAN, Karras et al. 2021; NVIDIA's
training/networks_stylegan3.py): an alias-free generator whose features are continuous signals.

    SynthesisInput   Fourier features: sin(2π (f·x + φ)) for random frequencies f in a disc of radius
                     `bandwidth`, rotated and translated by an affine transform of w (and by the user
                     transform buffer `transform`, the inverse of gen_images.py's make_transform),
                     mixed by a learned matrix.
    SynthesisLayer   modulated convolution (3x3 for StyleGAN3-T, 1x1 for -R; weights pre-normalised,
                     input scaled by 1/sqrt of its magnitude EMA) then filtered leaky ReLU: upsample by 2
                     with a low-pass filter at this layer's cutoff, bias, leaky ReLU, clamp, low-pass and
                     downsample to the output sampling rate (kernels/filtered_lrelu.py).
    SynthesisNetwork3  the input, 14 layers and a ToRGB layer (num_ws = 16); each layer's cutoff,
                     stopband, sampling rate, size and channels follow NVIDIA's geometric schedule; the
                     last two layers are critically sampled; the output is scaled by 0.25.

Parameter and buffer names are NVIDIA's (`input.freqs`, `L0_36_512.affine.weight`, `L3_52_512.up_filter`,
...), so their state dicts load 1:1. StyleGAN3 has no noise inputs: `noise` is accepted and ignored.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kernels import conv2d, filtered_lrelu

from core.networks.layers import FullyConnectedLayer


# ------------------------------------------------------------------------------- filters ---

def _kaiser_beta(atten: float) -> float:
    """Kaiser window beta for an attenuation in dB (scipy.signal.kaiser_beta)."""
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def _kaiser_atten(numtaps: int, width: float) -> float:
    """Attenuation (dB) of a Kaiser FIR filter with `numtaps` taps and transition `width` (in units of
    the Nyquist frequency) (scipy.signal.kaiser_atten)."""
    return 2.285 * (numtaps - 1) * np.pi * width + 7.95


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float,
                          radial: bool = False) -> torch.Tensor | None:
    """NVIDIA's SynthesisLayer.design_lowpass_filter without scipy: a separable Kaiser-windowed sinc
    (scipy.signal.firwin(numtaps, cutoff, width=width, fs=fs), unit DC gain) -> [numtaps], or a
    radially symmetric jinc filter with a separable Kaiser window -> [numtaps, numtaps]; None for one tap.
    cutoff, width, fs in cycles per unit (the layer's sampling rate fs)."""
    if numtaps == 1:
        return None
    nyq = fs / 2
    beta = _kaiser_beta(_kaiser_atten(numtaps, width / nyq))
    window = np.kaiser(numtaps, beta)
    if not radial:
        m = np.arange(numtaps) - (numtaps - 1) / 2
        h = (cutoff / nyq) * np.sinc((cutoff / nyq) * m) * window
        return torch.as_tensor(h / h.sum(), dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    with np.errstate(invalid="ignore", divide="ignore"):
        j1 = torch.special.bessel_j1(torch.as_tensor(2 * cutoff * np.pi * r, dtype=torch.float64)).numpy()
        f = np.where(r == 0, cutoff, j1 / (np.pi * r))  # the limit at r = 0: J1(a r) / (π r) -> a / (2π) = cutoff
    f = f * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)


# ------------------------------------------------------------------ modulated convolution ---

def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     padding: int = 0, input_gain: torch.Tensor | None = None) -> torch.Tensor:
    """StyleGAN3's modulated convolution: x [N, I, H, W], weight [O, I, k, k], styles [N, I].
    With demodulation the weight and styles are first normalised (RMS 1), then modulated and
    demodulated per sample; `input_gain` (a scalar: 1/sqrt of the input's magnitude EMA) scales the
    input channels. One grouped convolution for the batch -> [N, O, H + 2p - k + 1, W + 2p - k + 1]."""
    n = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if demodulate:
        weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    w = weight.unsqueeze(0) * styles.unsqueeze(1).unsqueeze(3).unsqueeze(4)  # [N, O, I, k, k]
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [N, O]
        w = w * dcoefs.unsqueeze(2).unsqueeze(3).unsqueeze(4)
    if input_gain is not None:
        w = w * input_gain.expand(n, in_channels).unsqueeze(1).unsqueeze(3).unsqueeze(4)
    x = x.reshape(1, -1, *x.shape[2:])
    w = w.reshape(-1, in_channels, kh, kw)
    x = conv2d(x, w.to(x.dtype), padding=padding, groups=n)
    return x.reshape(n, -1, *x.shape[2:])


# ---------------------------------------------------------------------------- the input ---

class SynthesisInput(nn.Module):
    """StyleGAN3's Fourier-feature input (Alias-Free GAN; it replaces StyleGAN2's learned constant),
    NVIDIA's SynthesisInput (stylegan3 training/networks_stylegan3.py): `channels` sinusoids of
    random frequency (uniform in a disc of radius `bandwidth`) and phase, sampled on a size x size
    grid at `sampling_rate`, rotated / translated per sample by affine(w) and by `transform`."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.w_dim, self.channels = w_dim, channels
        self.size = (int(size), int(size))
        self.sampling_rate, self.bandwidth = float(sampling_rate), float(bandwidth)
        freqs = torch.randn([channels, 2])  # uniform in a disc of radius `bandwidth`
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs /= radii * radii.square().exp().pow(0.25)
        freqs *= bandwidth
        phases = torch.rand([channels]) - 0.5
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4)  # -> (r_c, r_s, t_x, t_y): starts at the identity
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3, 3))  # the user's inverse transform of the image
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", phases)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """w [N, w_dim] -> Fourier features [N, channels, size, size]."""
        n = w.shape[0]
        transforms = self.transform.unsqueeze(0)
        freqs, phases = self.freqs.unsqueeze(0), self.phases.unsqueeze(0)
        t = self.affine(w)  # the learned rotation (cos, sin) and translation, normalised
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        m_r = torch.eye(3, device=w.device).unsqueeze(0).repeat([n, 1, 1])  # inverse rotation
        m_r[:, 0, 0], m_r[:, 0, 1], m_r[:, 1, 0], m_r[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        m_t = torch.eye(3, device=w.device).unsqueeze(0).repeat([n, 1, 1])  # inverse translation
        m_t[:, 0, 2], m_t[:, 1, 2] = -t[:, 2], -t[:, 3]
        transforms = m_r @ m_t @ transforms  # rotate, then translate, then the user's transform
        phases = phases + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]
        # Dampen frequencies the user's transform pushed out of band.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = 0.5 * self.size[0] / self.sampling_rate
        theta[1, 1] = 0.5 * self.size[1] / self.sampling_rate
        grids = F.affine_grid(theta.unsqueeze(0), [1, 1, self.size[1], self.size[0]], align_corners=False)
        x = (grids.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # [N, H, W, C]
        x = x + phases.unsqueeze(1).unsqueeze(2)
        x = torch.sin(x * (np.pi * 2))
        x = x * amplitudes.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


# ---------------------------------------------------------------------------- the layers ---

class SynthesisLayer(nn.Module):
    """One StyleGAN3 layer (Alias-Free GAN), NVIDIA's SynthesisLayer (stylegan3
    training/networks_stylegan3.py): modulated conv, then the filtered leaky ReLU (upsample to
    tmp_sampling_rate with a low-pass at in_cutoff, bias, lrelu, clamp, low-pass at out_cutoff and
    downsample to out_sampling_rate). Critically sampled layers never use radial filters;
    is_torgb: a 1x1 conv without demodulation or lrelu."""

    def __init__(self, w_dim: int, is_torgb: bool, is_critically_sampled: bool, use_fp16: bool,
                 in_channels: int, out_channels: int, in_size: int, out_size: int,
                 in_sampling_rate: float, out_sampling_rate: float, in_cutoff: float, out_cutoff: float,
                 in_half_width: float, out_half_width: float, conv_kernel: int = 3, filter_size: int = 6,
                 lrelu_upsampling: int = 2, use_radial_filters: bool = False, conv_clamp: float | None = 256,
                 magnitude_ema_beta: float = 0.999):
        super().__init__()
        self.w_dim, self.is_torgb, self.use_fp16 = w_dim, is_torgb, use_fp16
        self.in_channels, self.out_channels = in_channels, out_channels
        self.in_size, self.out_size = (in_size, in_size), (out_size, out_size)
        self.in_sampling_rate, self.out_sampling_rate = in_sampling_rate, out_sampling_rate
        self.tmp_sampling_rate = max(in_sampling_rate, out_sampling_rate) * (1 if is_torgb else lrelu_upsampling)
        self.in_cutoff, self.out_cutoff = in_cutoff, out_cutoff
        conv_kernel = 1 if is_torgb else conv_kernel  # ToRGB is a 1x1 modulated conv
        self.conv_kernel, self.conv_clamp = conv_kernel, conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, conv_kernel, conv_kernel]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        # Upsampling filter (to the temporary rate at which the nonlinearity runs).
        self.up_factor = int(np.rint(self.tmp_sampling_rate / in_sampling_rate))
        assert in_sampling_rate * self.up_factor == self.tmp_sampling_rate
        self.up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        self.register_buffer("up_filter", design_lowpass_filter(self.up_taps, in_cutoff, in_half_width * 2,
                                                                self.tmp_sampling_rate))
        # Downsampling filter (radial for StyleGAN3-R, except in the critically sampled layers).
        self.down_factor = int(np.rint(self.tmp_sampling_rate / out_sampling_rate))
        assert out_sampling_rate * self.down_factor == self.tmp_sampling_rate
        self.down_taps = filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        self.down_radial = use_radial_filters and not is_critically_sampled
        self.register_buffer("down_filter", design_lowpass_filter(self.down_taps, out_cutoff, out_half_width * 2,
                                                                  self.tmp_sampling_rate, radial=self.down_radial))
        # Padding: the output grid centred on the input's (the symmetric interpretation, Appendix C.3).
        pad_total = (out_size - 1) * self.down_factor + 1
        pad_total -= (in_size + conv_kernel - 1) * self.up_factor
        pad_total += self.up_taps + self.down_taps - 2
        pad_lo = (pad_total + self.up_factor) // 2
        pad_hi = pad_total - pad_lo
        self.padding = [int(pad_lo), int(pad_hi), int(pad_lo), int(pad_hi)]

    def forward(self, x: torch.Tensor, w: torch.Tensor, update_emas: bool = False,
                force_fp32: bool = False) -> torch.Tensor:
        """x [N, in_channels, in_size, in_size], w [N, w_dim] -> [N, out_channels, out_size, out_size]."""
        if update_emas:
            magnitude = x.detach().to(torch.float32).square().mean()
            self.magnitude_ema.copy_(magnitude.lerp(self.magnitude_ema, self.magnitude_ema_beta))
        input_gain = self.magnitude_ema.rsqrt()
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / math.sqrt(self.in_channels * self.conv_kernel ** 2))
        dtype = torch.float16 if self.use_fp16 and x.device.type == "cuda" and not force_fp32 else torch.float32
        x = modulated_conv2d(x.to(dtype), self.weight, styles, padding=self.conv_kernel - 1,
                             demodulate=not self.is_torgb, input_gain=input_gain)
        gain, slope = (1.0, 1.0) if self.is_torgb else (math.sqrt(2), 0.2)
        return filtered_lrelu(x, fu=self.up_filter, fd=self.down_filter, b=self.bias.to(x.dtype),
                              up=self.up_factor, down=self.down_factor, padding=self.padding, gain=gain,
                              slope=slope, clamp=self.conv_clamp)


def input_transform(translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> torch.Tensor:
    """The value of SynthesisInput's `transform` buffer that shows the image translated by
    `translate` (in units of the image: 1 = its full width) and rotated by `rotate` degrees: the
    inverse of NVIDIA's gen_images.py make_transform, as gen_images.py sets it. -> [3, 3] float32."""
    s, c = math.sin(math.radians(rotate)), math.cos(math.radians(rotate))
    m = np.array([[c, s, translate[0]], [-s, c, translate[1]], [0.0, 0.0, 1.0]])
    return torch.from_numpy(np.linalg.inv(m)).to(torch.float32)


# ------------------------------------------------------------------------- the network ---

class SynthesisNetwork3(nn.Module):
    """StyleGAN3's synthesis network (Alias-Free GAN, Karras et al. 2021), NVIDIA's SynthesisNetwork
    (stylegan3 training/networks_stylegan3.py): the Fourier-feature input and num_layers + 1 layers
    L{idx}_{size}_{channels} (the last is ToRGB), the last num_critical + 1 critically sampled;
    num_ws = num_layers + 2. See the module docstring for the schedule."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_layers: int = 14, num_critical: int = 2, first_cutoff: float = 2,
                 first_stopband: float = 2 ** 2.1, last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10,
                 output_scale: float = 0.25, num_fp16_res: int = 4, **layer_kwargs):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.num_layers, self.num_ws = num_layers, num_layers + 2
        self.output_scale = output_scale
        # Geometric progression of the layers' cutoffs and minimum stopbands.
        last_cutoff = img_resolution / 2
        last_stopband = last_cutoff * last_stopband_rel
        exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
        cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
        stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
        sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
        half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
        sizes = sampling_rates + margin_size * 2
        sizes[-2:] = img_resolution
        channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
        channels[-1] = img_channels
        self.sampling_rates = [int(s) for s in sampling_rates]
        self.input = SynthesisInput(w_dim, int(channels[0]), int(sizes[0]), sampling_rates[0], cutoffs[0])
        self.layer_names = []
        for idx in range(num_layers + 1):
            prev = max(idx - 1, 0)
            layer = SynthesisLayer(
                w_dim=w_dim, is_torgb=idx == num_layers, is_critically_sampled=idx >= num_layers - num_critical,
                use_fp16=bool(sampling_rates[idx] * (2 ** num_fp16_res) > img_resolution),
                in_channels=int(channels[prev]), out_channels=int(channels[idx]),
                in_size=int(sizes[prev]), out_size=int(sizes[idx]),
                in_sampling_rate=int(sampling_rates[prev]), out_sampling_rate=int(sampling_rates[idx]),
                in_cutoff=cutoffs[prev], out_cutoff=cutoffs[idx],
                in_half_width=half_widths[prev], out_half_width=half_widths[idx], **layer_kwargs)
            name = f"L{idx}_{layer.out_size[0]}_{layer.out_channels}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def layer_info(self) -> list[dict]:
        """One entry per W+ row (the input, then each layer): the layer it drives and its sampling
        rate, which the explorer shows as the row's 'resolution'."""
        info = [{"resolution": self.sampling_rates[0], "layers": ["input"]}]
        return info + [{"resolution": rate, "layers": [name]} for name, rate in zip(self.layer_names, self.sampling_rates)]

    def set_transform(self, translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> None:
        """Translate (image widths) and rotate (degrees) what the network draws (input_transform)."""
        self.input.transform.copy_(input_transform(translate, rotate))

    def forward(self, ws: torch.Tensor, noise=None, update_emas: bool = False, force_fp32: bool = False,
                **_) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> image [N, img_channels, res, res] (about [-1, 1]). `noise` (our
        NoiseControl) and the other networks' options (noise_mode, fused_modconv) are ignored:
        StyleGAN3 has no noise inputs. force_fp32: the fp16 layers in fp32 too (as NVIDIA's).
        ValueError when ws is not [N, num_ws, w_dim]."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0])
        for name, w in zip(self.layer_names, ws[1:]):
            x = getattr(self, name)(x, w, update_emas=update_emas, force_fp32=force_fp32)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.to(torch.float32)
