"""Several processes training one model (torch.distributed, NCCL on GPUs, gloo on CPUs): the
gradients and the step's statistics summed over processes, and the decisions taken from a clock
made the same in every process. With one process these do nothing."""

from __future__ import annotations

import os

import torch

from core.devices import resolve_device


def all_reduce_grads(module: torch.nn.Module, world: int) -> None:
    """Sum every parameter gradient of `module` over the `world` processes (one flat all-reduce)."""
    if world == 1:
        return
    params = [p for p in module.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params])
    torch.distributed.all_reduce(flat)
    for p, g in zip(params, flat.split([p.numel() for p in params])):
        p.grad.copy_(g.view_as(p))


def all_reduce_scalars(values: list[float], world: int, device: torch.device) -> list[float]:
    """The sums of `values` over the processes (float64), in order."""
    if world == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    torch.distributed.all_reduce(t)
    return t.tolist()


_control: dict = {}  # "group": a gloo group for host-side decisions (NCCL groups take device tensors only)


def any_process(flags: list[bool], world: int) -> list[bool]:
    """For each flag, whether it is set in any process — so that decisions taken from each
    process's own clock (a tick's time limit, --minutes) are the same everywhere and every process
    reaches the same collectives (a snapshot's barriers, the statistics). A few bytes over a CPU
    (gloo) group: no device synchronisation."""
    if world == 1:
        return list(flags)
    t = torch.tensor([int(f) for f in flags], dtype=torch.int32)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX, group=_control.get("group"))
    return [bool(v) for v in t.tolist()]


def all_reduce_sum(t: torch.Tensor, world: int) -> torch.Tensor:
    """`t` (on the training device) summed over the processes, in place; no host synchronisation."""
    if world > 1:
        torch.distributed.all_reduce(t)
    return t


def init_distributed(device_name: str):
    """(rank, world, device) — torchrun sets WORLD_SIZE/RANK/LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, resolve_device(device_name)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_name != "cpu" and torch.cuda.is_available()
    torch.distributed.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        _control["group"] = torch.distributed.new_group(backend="gloo")  # (a CPU run's default group is gloo)
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    return rank, world, torch.device("cpu")
