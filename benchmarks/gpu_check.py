"""The GPU check: everything the GPU issue asks to measure, in one command and one report.

Steps (each a subprocess with its own log, under one overall deadline; a failed step is recorded
and the next one runs):
  1. build the CUDA kernels and run their self-test (stylegan-kernels)
  2. the `cuda` tests (tests/kernels/test_cuda.py, tests/kernels/test_cuda_kernels.py; no -x)
  3. stylegan-train on CUDA with the default kernel mode, 2 kimg, then stylegan-generate from it
  4. benchmarks/train.py at 256², batch 32, --net default --fp16-res 4 with the kernels (auto), the
     per-phase split and a profile of every phase's top kernels, kernel launches and the GPU's busy
     share of an average step (near 1: the kernels bound the step; well below: the CPU's launch rate)
  5. benchmarks/kernels.py: 2x up / 2x down / FIR against the copy bandwidth, and the generator at
     256² and 1024², batch 1/8/32, with and without the kernels
  6. optional (--skip; a step the overall deadline leaves out is not a failure), in this order:
     training with the fp16 blocks channels-last (STYLEGAN_FP16_LAYOUT=nhwc, profiled), StyleGAN3-T's
     generator with the reference / composite / fused ops, training with the reference ops
     (profiled), training with the custom ops but no kernels (STYLEGAN_KERNELS=op)
Writes OUT/gpu_check.json (every figure, rewritten after each step so a killed run still reports),
OUT/gpu_check.md (the short table) and OUT/logs.tar.gz (each step's log and JSON): three files,
inside the device machine's limit on returned files.

    bash benchmarks/gpu_check.sh                     # on the GPU machine (OUT defaults to ./gpu-check)
    python benchmarks/gpu_check.py --dry-run --out /tmp/gc   # the same steps on a CPU, small sizes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"train_sec_per_kimg": 6.0, "regularisers_share": 0.25, "copy_fraction": 0.5}


class Check:
    def __init__(self, out: Path, deadline_s: float, dry_run: bool):
        self.out, self.dry = out, dry_run
        self.end = time.monotonic() + deadline_s
        self.logs = Path(tempfile.mkdtemp(prefix="gpu-check-logs-"))  # packed into OUT/logs.tar.gz
        out.mkdir(parents=True, exist_ok=True)
        self.report: dict = {"steps": {}}
        self.env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def run(self, name: str, cmd: list[str], timeout: float, env: dict | None = None) -> subprocess.CompletedProcess | None:
        """Run one step; its output goes to logs/NAME.log; -> the process, or None if skipped/timed out."""
        left = self.end - time.monotonic()
        log = self.logs / f"{name}.log"
        if left < 20:
            self.report["steps"][name] = {"status": "skipped (overall deadline)"}
            print(f"[gpu-check] {name}: skipped, no time left", file=sys.stderr)
            return None
        t = time.monotonic()
        print(f"[gpu-check] {name}: {' '.join(cmd)}", file=sys.stderr, flush=True)
        try:
            r = subprocess.run(cmd, cwd=REPO, env={**self.env, **(env or {})}, capture_output=True, text=True,
                               timeout=min(timeout, left))
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = (exc.stderr or b"").decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            log.write_text(f"$ {' '.join(cmd)}\n{out}\n--- stderr ---\n{err}\nTIMED OUT after {min(timeout, left):.0f} s\n")
            self.report["steps"][name] = {"status": "timeout", "seconds": round(time.monotonic() - t, 1)}
            print(f"[gpu-check] {name}: TIMEOUT", file=sys.stderr)
            self.save()
            return None
        log.write_text(f"$ {' '.join(cmd)}\n{r.stdout}\n--- stderr ---\n{r.stderr}\nexit {r.returncode}\n")
        status = "ok" if r.returncode == 0 else f"failed (exit {r.returncode})"
        self.report["steps"][name] = {"status": status, "seconds": round(time.monotonic() - t, 1)}
        tail = (r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or [""])[-1]
        print(f"[gpu-check] {name}: {status} in {time.monotonic() - t:.0f} s  {tail[:160]}", file=sys.stderr)
        self.save()
        return r

    def save(self) -> None:
        """The report so far and the logs, written after every step (a run killed later still reports)."""
        tmp = self.out / "gpu_check.json.tmp"
        tmp.write_text(json.dumps(self.report, indent=2) + "\n")
        tmp.replace(self.out / "gpu_check.json")
        with tarfile.open(self.out / "logs.tar.gz.tmp", "w:gz") as tar:
            tar.add(self.logs, arcname="logs")
        (self.out / "logs.tar.gz.tmp").replace(self.out / "logs.tar.gz")

    def json_of(self, r: subprocess.CompletedProcess | None, path: Path) -> dict | None:
        if r is None or r.returncode != 0 or not path.exists():
            return None
        return json.loads(path.read_text())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.environ.get("OUT") or "gpu-check", help="report folder")
    p.add_argument("--deadline", type=float, default=450, help="seconds for all steps together (default 450)")
    p.add_argument("--dry-run", action="store_true", help="run every step on the CPU at small sizes")
    p.add_argument("--skip", action="append", default=[], choices=["train_reference", "train_kernels_nhwc", "train_op"],
                   help="leave out a diagnostic step (when device time is short; repeatable)")
    args = p.parse_args()
    out = Path(args.out).resolve()
    c = Check(out, args.deadline, args.dry_run)
    py = sys.executable
    dev = "cpu" if args.dry_run else "cuda"
    import torch
    c.report["machine"] = {
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
        "dry_run": args.dry_run,
    }
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU here (use --dry-run on a CPU machine)", file=sys.stderr)
        return 2

    # 1. Build + self-test.
    r = c.run("selftest", [py, "-m", "kernels.selftest"] + (["--no-compile"] if args.dry_run else []), 240)
    if r is not None:
        c.report["selftest"] = [line.strip() for line in r.stdout.splitlines() if line.strip()]
    fallback = vector_io_fallback(c.report.get("selftest") or [], c.report["steps"]["selftest"]["status"])
    if fallback:  # one GPU run must still give every figure: the rest runs the scalar-I/O kernels
        r = c.run("selftest_scalar_io", [py, "-m", "kernels.selftest"], 120, env={"STYLEGAN_UPFIRDN2D_IO": "scalar"})
        if r is not None and r.returncode == 0:
            c.env["STYLEGAN_UPFIRDN2D_IO"] = "scalar"
            c.report["upfirdn2d_vector_io"] = f"disabled for the later steps: {fallback}"

    # 2. The cuda tests (the dry run collects them: they skip without a GPU).
    r = c.run("cuda_tests", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs",
                             "tests/kernels/test_cuda.py", "tests/kernels/test_cuda_kernels.py"], 240)
    if r is not None:
        c.report["cuda_tests"] = (r.stdout.strip().splitlines() or [""])[-1]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # 3. A real run: stylegan-train with the default kernel mode, then stylegan-generate.
        data = tmp / "random64.zip"
        subprocess.run([py, "-c", "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
                        "from benchmarks.train import random_dataset; random_dataset(Path(sys.argv[2]), 64, 3, 512)",
                        str(REPO), str(data)], check=True, env=c.env)
        small = ["--cbase", "2048", "--cmax", "64", "--z-dim", "64", "--w-dim", "64", "--map", "2"] if args.dry_run else []
        kimg = "0.064" if args.dry_run else "2"
        r = c.run("stylegan_train", [py, "-m", "core.cli.train", "--data", str(data), "--outdir", str(tmp / "runs"),
                                     "--device", dev, "--kimg", kimg, "--tick", str(float(kimg) / 2), "--snap", "2",
                                     "--batch", "32" if not args.dry_run else "8", "--mbstd-group", "4", *small], 180)
        snaps = sorted((tmp / "runs").glob("*/network-snapshot-*.pt"))
        train_run = {"snapshots": [s.name for s in snaps]}
        if snaps:
            log = (snaps[-1].parent / "log.txt").read_text().splitlines()
            train_run["log_tail"] = log[-4:]
            files = sorted(x.name for x in snaps[-1].parent.iterdir())
            train_run["files"] = files
            g = c.run("stylegan_generate", [py, "-m", "core.cli.generate", "--pkl", str(snaps[-1]), "--seeds", "0-7",
                                            "--outdir", str(tmp / "gen"), "--device", dev], 120)
            train_run["generated_pngs"] = len(list((tmp / "gen").glob("*.png"))) if g is not None else 0
        c.report["stylegan_train"] = train_run

    # 4. Training speed with the default kernels and layout, profiled (which kernels each phase,
    #    the regularisers' double backward above all, spends its time in).
    bench = [py, "benchmarks/train.py"]
    bench += ["--res", "32", "--batch", "8", "--steps", "4", "--warmup", "1"] if args.dry_run else \
        ["--res", "256", "--batch", "32", "--channels", "3", "--net", "default", "--fp16-res", "4", "--device", "cuda"]
    kernels = "op" if args.dry_run else "auto"
    c.report["train"] = {}

    def train(name: str, env: dict, profile: bool = True, timeout: float = 200, step: str | None = None) -> None:
        step = step or f"train_{name}"
        path = c.logs / f"{step}.json"
        r = c.run(step, [*bench, *(["--profile", "12"] if profile else []), "--out", str(path)], timeout, env=env)
        c.report["train"][name] = c.json_of(r, path)

    train("kernels", {"STYLEGAN_KERNELS": kernels, "STYLEGAN_FP16_LAYOUT": "nchw"})

    # 5. Kernel bandwidth and the generator with and without the kernels.
    path = c.logs / "kernels.json"
    r = c.run("kernels", [py, "benchmarks/kernels.py", "--device", dev, "--out", str(path)]
              + (["--quick"] if args.dry_run else []), 240)
    c.report["kernels"] = c.json_of(r, path)

    # 6. Optional steps (a deadline skip is not a failure), most wanted first.
    #    The fp16 blocks channels-last: whether cuDNN's NCHW<->NHWC transposes are worth the
    #    channels-last resampling (STYLEGAN_FP16_LAYOUT's default).
    if "train_kernels_nhwc" not in args.skip:
        train("kernels_nhwc", {"STYLEGAN_KERNELS": kernels, "STYLEGAN_FP16_LAYOUT": "nhwc"})

    #    StyleGAN3-T's generator (#21): the reference ops, the composite custom ops (auto) and the
    #    fused filtered_lrelu kernel (cuda), ms per image at batch 1.
    c.report["stylegan3"] = {}
    sg3_modes = (("reference", "ref"), ("composite", "auto"), ("fused", "cuda"))
    for name, mode in sg3_modes[:1] if args.dry_run else sg3_modes:  # (on a CPU every mode is the reference)
        path = c.logs / f"stylegan3_{name}.json"
        res = ["64"] if args.dry_run else ["256", "1024"]
        r = c.run(f"stylegan3_{name}", [py, "benchmarks/generator.py", "--arch", "stylegan3-t", "--res", *res,
                                        "--batch", "1", "--device", dev, "--runs", "1", "--iters", "2" if args.dry_run else "5",
                                        "--out", str(path)], 150, env={"STYLEGAN_KERNELS": mode})
        c.report["stylegan3"][name] = c.json_of(r, path)

    #    The reference ops (profiled: where the regularisers lose their time without the custom ops),
    #    then the custom ops' autograd with the reference arithmetic inside (no kernels), which tells
    #    the autograd structure's share of the training speed from the kernels'.
    if "train_reference" not in args.skip:
        train("reference", {"STYLEGAN_KERNELS": "ref", "STYLEGAN_FP16_LAYOUT": "nchw"})
    if not args.dry_run and "train_op" not in args.skip:
        train("ops without kernels", {"STYLEGAN_KERNELS": "op", "STYLEGAN_FP16_LAYOUT": "nchw"}, profile=False,
              timeout=150, step="train_op")

    c.report["summary"] = summarise(c.report)
    c.save()
    table = markdown(c.report)
    (out / "gpu_check.md").write_text(table)
    print(table)
    return 0 if all(passed(name, st["status"]) for name, st in c.report["steps"].items()) else 1


OPTIONAL_STEPS = ("train_kernels_nhwc", "stylegan3_", "train_reference", "train_op")


def passed(step: str, status: str) -> bool:
    """A step counts against the check unless it ran ok, or it is optional and the overall deadline
    left it out (its figures are then missing from the report, not wrong)."""
    return status == "ok" or (step.startswith(OPTIONAL_STEPS) and status == "skipped (overall deadline)")


def vector_io_fallback(selftest: list[str], status: str) -> str | None:
    """Why the later steps should run the scalar-I/O resampling kernels, or None: the self-test failed
    only in the vector forms, or died before its summary (a GPU fault takes the process down)."""
    failed = [line for line in selftest if line.startswith("FAIL")]
    if failed and all(" 4x4 " in line and "scalar-I/O" not in line for line in failed):
        return f"{len(failed)} vector-I/O self-test case(s) failed, e.g. {failed[0][:120]}"
    if status != "ok" and not any(line.endswith(" passed") for line in selftest) \
            and not any(line.startswith("build FAILED") for line in selftest):
        return "the self-test died before its summary"
    return None


def summarise(report: dict) -> dict:
    """The issue's figures against its targets."""
    s: dict = {}
    t = (report.get("train") or {}).get("kernels")
    if t:
        s["train_sec_per_kimg"] = t["sec_per_kimg"]
        s["regularisers_share"] = t["regularisers_share"]
        s["train_target_met"] = t["sec_per_kimg"] <= TARGETS["train_sec_per_kimg"] and \
            t["regularisers_share"] <= TARGETS["regularisers_share"]
        for key in ("gpu_busy_share", "launches_per_step"):  # GPU-bound (share near 1) or launch-bound?
            if key in t:
                s[f"train_{key}"] = t[key]
    nhwc = (report.get("train") or {}).get("kernels_nhwc")
    if nhwc:
        s["train_nhwc_sec_per_kimg"] = nhwc["sec_per_kimg"]
        s["train_nhwc_target_met"] = nhwc["sec_per_kimg"] <= TARGETS["train_sec_per_kimg"] and \
            nhwc["regularisers_share"] <= TARGETS["regularisers_share"]
        if t:  # which fp16 layout STYLEGAN_FP16_LAYOUT's default should be
            s["fp16_layout_faster"] = "nhwc" if nhwc["sec_per_kimg"] < t["sec_per_kimg"] else "nchw"
    ref = (report.get("train") or {}).get("reference")
    if ref:
        s["train_reference_sec_per_kimg"] = ref["sec_per_kimg"]
    k = report.get("kernels")
    if k:
        big = [row for row in k["upfirdn2d"] if row["op"] in ("up2", "down2") and row["shape"] in
               ([4, 256, 256, 256], [1, 64, 1024, 1024])]
        if big:
            s["resampling_min_copy_fraction_large_shapes"] = min(row["fraction_of_copy_bandwidth"] for row in big)
            s["resampling_target_met"] = s["resampling_min_copy_fraction_large_shapes"] >= TARGETS["copy_fraction"]
            for form in ("vector_io", "scalar_io"):  # the bare kernels, both I/O forms of the NCHW tiles
                bare = [row[f"{form}_fraction_of_copy_bandwidth"] for row in big if f"{form}_ms" in row]
                if bare:
                    s[f"resampling_min_copy_fraction_large_shapes_bare_{form}"] = min(bare)
        if k["generator"]:
            s["generator_faster_with_kernels_everywhere"] = all(row["speedup"] > 1 for row in k["generator"])
    return s


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# GPU check — {m['gpu'] or 'CPU (dry run)'}, torch {m['torch']}, CUDA {m['cuda']}", "",
             "| step | status | s |", "|---|---|---|"]
    lines += [f"| {name} | {st['status']} | {st.get('seconds', '')} |" for name, st in report["steps"].items()]
    if report.get("cuda_tests"):
        lines += ["", f"cuda tests: {report['cuda_tests']}"]
    if report.get("upfirdn2d_vector_io"):
        lines += ["", f"**upfirdn2d vector I/O {report['upfirdn2d_vector_io']}**"]
    train = report.get("train") or {}
    if any(train.values()):
        lines += ["", "| training (s/kimg) | total | phases synchronised | G main | PL | D main | R1 | EMA | PL+R1 share "
                  "| GPU busy share | launches per step |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, t in train.items():
            if t:
                ph = t["phases_sec_per_kimg"]
                lines.append(f"| {name} ({t['kernels']}, fp16 {t.get('fp16_layout', 'nchw')}) | {t['sec_per_kimg']} | {t.get('sec_per_kimg_phases_synchronised', '')} | "
                             f"{ph['G main']} | {ph['G reg (PL)']} | "
                             f"{ph['D main']} | {ph['D reg (R1)']} | {ph['EMA']} | {t['regularisers_share']:.0%} | "
                             f"{t.get('gpu_busy_share', '')} | {t.get('launches_per_step', '')} |")
    k = report.get("kernels")
    if k:
        lines += ["", f"copy roofline {k['copy_GB_per_s']} GB/s", "",
                  "| op | shape | dtype | layout | kernel ms | ref ms | x | % of copy | bare kernel: vector I/O ms (% of copy) "
                  "| scalar I/O ms (% of copy) |", "|---|---|---|---|---|---|---|---|---|---|"]

        def bare(r, form):
            return f"{r[form + '_ms']} ({100 * r[form + '_fraction_of_copy_bandwidth']:.1f})" if form + "_ms" in r else ""
        lines += [f"| {r['op']} | {r['shape']} | {r['dtype']} | {r['layout']} | {r['kernel_ms']} | {r['reference_ms']} | "
                  f"{r['speedup']} | {100 * r['fraction_of_copy_bandwidth']:.1f} | {bare(r, 'vector_io')} | "
                  f"{bare(r, 'scalar_io')} |" for r in k["upfirdn2d"]]
        if k.get("bias_act"):
            lines += ["", "| bias_act | shape | dtype | layout | kernel ms | ref ms | % of copy | grad ms | grad % of copy |",
                      "|---|---|---|---|---|---|---|---|---|"]
            lines += [f"| lrelu | {r['shape']} | {r['dtype']} | {r['layout']} | {r['kernel_ms']} | {r['reference_ms']} | "
                      f"{100 * r['fraction_of_copy_bandwidth']:.1f} | {r['grad_kernel_ms']} | "
                      f"{100 * r['grad_fraction_of_copy_bandwidth']:.1f} |" for r in k["bias_act"]]
        if k["generator"]:
            lines += ["", "| generator | batch | ref ms/img | kernels ms/img | x |", "|---|---|---|---|---|"]
            lines += [f"| {r['res']}² | {r['batch']} | {r['reference_ms_per_img']} | {r['kernels_ms_per_img']} | "
                      f"{r['speedup']} |" for r in k["generator"]]
    sg3 = {name: rows for name, rows in (report.get("stylegan3") or {}).items() if rows}
    if sg3:
        lines += ["", "| StyleGAN3-T generator, batch 1 | " + " | ".join(f"{n} ms/img" for n in sg3) + " |",
                  "|---|" + "---|" * len(sg3)]
        resolutions = sorted({r["res"] for rows in sg3.values() for r in rows.get("results", [])})
        for res in resolutions:
            cells = [next((str(r["ms_per_img"]) for r in rows.get("results", []) if r["res"] == res), "") for rows in sg3.values()]
            lines.append(f"| {res}² | " + " | ".join(cells) + " |")
    lines += ["", "summary: " + json.dumps(report.get("summary", {})), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
