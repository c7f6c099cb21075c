"""The two whole-run files, assembled in one place (both in our .pt format, core/checkpoints/ours.py):

    snapshot       what stylegan-train writes: G_ema and G_config (any front end opens it as a
                   generator), D_config, and "training" — G, D, optimisers, ADA, image count, path-length
                   mean, stage, tick, time — everything --resume needs to continue bit for bit
    networks file  what NVIDIA's network pickles hold: G, G_ema, D and ADA's p under "networks", no
                   optimiser state (a third of a snapshot); what --init starts a new run from

`meta` records where a file came from (kimg, dataset, run; or the format it was converted from).
"""

from __future__ import annotations

from core.checkpoints.ours import FORMAT, VERSION
from core.errors import CheckpointError


def snapshot_dict(G_config: dict, G_ema: dict, D_config: dict, training: dict, meta: dict) -> dict:
    """A training snapshot: `training` holds G, D, the optimisers and the loop's counters."""
    return {"format": FORMAT, "version": VERSION, "G_config": G_config, "G_ema": G_ema, "D_config": D_config,
            "meta": meta, "training": training}


def networks_dict(G_config: dict, G_ema: dict, meta: dict, D_config: dict | None = None, G: dict | None = None,
                  D: dict | None = None, ada_p: float | None = None) -> dict:
    """A networks file (or, without D, a generator-only file): G defaults to G_ema."""
    out = {"format": FORMAT, "version": VERSION, "G_config": G_config, "G_ema": G_ema, "meta": meta}
    if D is not None:
        out["D_config"] = D_config
        out["networks"] = {"G": G if G is not None else G_ema, "D": D}
        if ada_p is not None:
            out["networks"]["ada_p"] = float(ada_p)
    return out


def networks_from(data: dict, source: str) -> dict:
    """A networks file from what core.checkpoints.read.read_networks returned for a snapshot, a
    networks file, an NVIDIA .pkl or a rosinality checkpoint (`source`: its file name, recorded in
    meta). CheckpointError for a generator-only file (no discriminator to keep)."""
    nets = data.get("networks")
    training = data.get("training")
    if training:
        nets = {"G": training["G"], "D": training["D"], "ada_p": float(training["ada"]["p"])}
    if not nets:
        raise CheckpointError(f"{source}: holds no discriminator this toolkit reads (a generator-only file); "
                              "--to networks needs a snapshot, an NVIDIA .pkl with D or a rosinality checkpoint with d")
    out = {k: data[k] for k in ("format", "version", "G_config", "G_ema", "D_config")}
    out["meta"] = {**data.get("meta", {}), "converted_from": source}
    out["networks"] = nets
    return out
