"""Several processes training one model (torch.distributed, NCCL on GPUs, gloo on CPUs): the
gradients and the step's statistics summed over processes. With one process these do nothing."""

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
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    return rank, world, torch.device("cpu")
