"""plot.png beside stats.jsonl: losses, ADA p and metrics (FID) over kimg, redrawn at snapshots."""

from __future__ import annotations

import json
from pathlib import Path

from core.files import atomic_write


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_run(run_dir: str | Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    stats = _read(run_dir / "stats.jsonl")
    metrics = {p.stem[len("metric-"):]: _read(p) for p in sorted(run_dir.glob("metric-*.jsonl"))}
    metrics = {name: rows for name, rows in metrics.items() if rows}
    panels = 3 if metrics else 2  # no FID panel when no metric ran
    fig, axes = plt.subplots(panels, 1, figsize=(8, 3 * panels), sharex=True)
    kimg = [s["kimg"] for s in stats]
    ax = axes[0]
    for key, label in [("loss_G", "G loss"), ("loss_D_real", "D loss (real)"), ("loss_D_fake", "D loss (fake)")]:
        pts = [(s["kimg"], s[key]) for s in stats if key in s]
        if pts:
            ax.plot(*zip(*pts), label=label)
    ax.set_ylabel("loss")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    ax = axes[1]
    ax.plot(kimg, [s.get("ada_p", 0) for s in stats], label="ADA p", color="tab:purple")
    ax.plot(kimg, [s.get("ada_rt", 0) for s in stats], label="r_t", color="tab:gray", alpha=0.7)
    ax.set_ylabel("augmentation")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    if metrics:
        ax = axes[2]
        for name, rows in metrics.items():
            ax.plot([r["kimg"] for r in rows], [r["value"] for r in rows], marker="o", label=name)
        ax.set_ylabel("FID")
        ax.legend(loc="upper right")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("kimg")
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    out = run_dir / "plot.png"
    atomic_write(out, lambda f: fig.savefig(f, format="png", dpi=80))
    plt.close(fig)
    return out
