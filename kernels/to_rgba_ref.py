"""Reference to_rgba: sample 0 of an NCHW image in [-1, 1] -> RGBA8 [H*zoom, W*zoom, 4], converted
exactly as core.images.to_uint8 (and NVIDIA's tools) do: (x * 127.5 + 128).clamp(0, 255) as uint8;
a grey image fills R, G and B; of more than 3 channels the first three are shown, of 2 the first
(as the CUDA kernel: channels >= 3 -> RGB, else channel 0 as grey); alpha is 255."""

from __future__ import annotations

import torch


def to_rgba_ref(img: torch.Tensor, zoom: int = 1) -> torch.Tensor:
    if zoom < 1:  # (as the kernel's binding)
        raise ValueError(f"to_rgba: zoom must be >= 1, got {zoom}")
    x = (img[0].float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    x = x[:3] if x.shape[0] >= 3 else x[:1].expand(3, -1, -1)
    out = torch.cat([x, torch.full_like(x[:1], 255)]).permute(1, 2, 0)
    if zoom > 1:
        out = out.repeat_interleave(zoom, 0).repeat_interleave(zoom, 1)
    return out.contiguous()
