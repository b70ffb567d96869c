"""Would fusing the heads' first layers make the distillation step cheaper? (issue 10)

Every head of the zinc recipe reads the same 3000-d readout through its own
Linear(3000, 512). The five can be one Linear(3000, 2560) whose output is split: the
same function (checked here to float tolerance) in one GEMM instead of five, and one
input-gradient GEMM instead of five plus their sum. This times both, forward + backward +
AdamW, alternating in one process on the same readout.

Measured 2026-12-02 (training paused, 2 threads): heads 115.5 ms per batch of 256,
fused 108.8 ms, 0.942 of the heads' time (a first scratch version: 0.957), about 1% of a
~700 ms distillation step: not worth a second parameter layout. The heads cost what
their FLOPs cost.

Usage:
    .venv/bin/python benchmarks/head_fusion.py [--steps 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from molmtd.objectives.losses import GaussianObjective

TEACHER_DIMS = {"ecfp-count": 2048, "physchem": 217, "chemprop": 300, "minimol": 512,
                "chemnet": 512}  # the zinc recipe's teachers (benchmarks/trainer.py)


class FusedFirstLayer(nn.Module):
    """The objective's heads with their first Linear layers concatenated into one."""

    def __init__(self, objective: GaussianObjective):
        super().__init__()
        nets = [head.net for head in objective.heads.values()]
        self.hidden = nets[0][0].out_features
        self.first = nn.Linear(nets[0][0].in_features, self.hidden * len(nets))
        with torch.no_grad():
            self.first.weight.copy_(torch.cat([n[0].weight for n in nets]))
            self.first.bias.copy_(torch.cat([n[0].bias for n in nets]))
        self.rest = nn.ModuleList([nn.Sequential(*list(n)[1:]) for n in nets])

    def forward(self, s):
        hidden = self.first(s).split(self.hidden, 1)
        return [rest(h) for rest, h in zip(self.rest, hidden, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--readout", type=int, default=3000)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    objective = GaussianObjective(args.readout, TEACHER_DIMS)
    fused = FusedFirstLayer(objective)
    separate = [head.net for head in objective.heads.values()]
    s0 = torch.randn(args.batch_size, args.readout)
    with torch.no_grad():
        gap = max((a - b).abs().max().item()
                  for a, b in zip([n(s0) for n in separate], fused(s0), strict=True))
    print(f"largest output difference, separate vs fused: {gap:.2e}")

    def stepper(forward, params):
        opt = torch.optim.AdamW(params, fused=True)

        def step():
            s = s0.clone().requires_grad_()
            loss = sum(out.square().mean() for out in forward(s))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step

    steps = {"separate": stepper(lambda s: [n(s) for n in separate], objective.parameters()),
             "fused": stepper(fused, fused.parameters())}
    for step in steps.values():
        for _ in range(3):
            step()
    times = {name: [] for name in steps}
    for i in range(args.steps):
        for name in (list(steps) if i % 2 == 0 else list(steps)[::-1]):
            start = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - start)
    ms = {name: 1e3 * statistics.median(t) for name, t in times.items()}
    print(f"ms per batch of {args.batch_size} (median of {args.steps}): separate heads "
          f"{ms['separate']:.1f}, fused first layer {ms['fused']:.1f}, ratio "
          f"{ms['fused'] / ms['separate']:.3f}")


if __name__ == "__main__":
    main()
