"""Cases on which the Triton sampling kernels must pick what the torch path of ``sampling`` picks.

Used on a GPU by ``tests/encoders/test_cuda.py`` and, on a CPU, through Triton's interpreter by
``tests/encoders/test_sampling_kernels.py`` (which runs :func:`main` in a process of its own, since the
interpreter is chosen when Triton is first imported).
"""

from __future__ import annotations

import torch

from openshape_ood.encoders import sampling


def _unit_ball(generator: torch.Generator, batch: int, points: int, device: str) -> torch.Tensor:
    """Clouds prepared as the encoders get them: centred, within the unit ball."""
    xyz = torch.randn(batch, points, 3, generator=generator).to(device)
    xyz -= xyz.mean(dim=1, keepdim=True)
    return xyz / xyz.norm(dim=-1).amax(dim=1).view(-1, 1, 1)


def _torch_path(function, *args, **kwargs):
    was, sampling.use_kernels = sampling.use_kernels, False
    try:
        return function(*args, **kwargs)
    finally:
        sampling.use_kernels = was


def mismatches(device: str, points: int = 2_500, batch: int = 3) -> list[str]:
    """What the kernels get wrong against the torch path on ``device``: one line per case, none when they agree.

    The cases: more points than one of the kernels' blocks and not a whole number of them; a starting
    index per cloud; Uni3D's skip of points at the centre; clouds on a coarse grid (ties between
    equally far points); balls fuller and emptier than K, and empty ones. On a GPU also points lying
    within rounding of a ball's surface, whose membership is the last bit of the distance: the kernel
    rounds as cuBLAS's product in the torch path does there; a CPU's BLAS (and the interpreter) round
    otherwise.
    """
    from openshape_ood.encoders import _kernels as kernels  # imports Triton: only where it is there

    generator = torch.Generator().manual_seed(0)
    wrong = []
    xyz = _unit_ball(generator, batch, points, device)
    grid = torch.round(xyz * 4) / 4
    start = torch.randint(0, points, (batch,), generator=generator).to(device)
    for name, cloud, samples, first, skip in [
        ("random", xyz, 40, None, None),
        ("start", xyz, 33, start, None),
        ("grid ties", grid, 40, start, None),
        ("skip at centre", xyz * 0.05, 40, start, 1e-3),
    ]:
        expected = _torch_path(sampling.farthest_point_sample, cloud, samples, first, skip_norm_sq=skip)
        planes = cloud.transpose(1, 2).contiguous()
        got = kernels.farthest_point_sample(
            planes,
            sampling._initial_nearest(planes, skip),
            torch.zeros(batch, dtype=torch.long, device=device) if first is None else first,
            samples,
        )
        if not torch.equal(got, expected):
            wrong.append(f"farthest point sample, {name}: {(got != expected).sum().item()} of {got.numel()} differ")

    centres = sampling.gather_points(xyz, _torch_path(sampling.farthest_point_sample, xyz, 24))
    # Points on the surface of each of the first centres' balls, in float32: their membership turns on rounding.
    directions = torch.nn.functional.normalize(torch.randn(batch, 8, 60, 3, generator=generator), dim=-1).to(device)
    surface = (centres[:, :8, None, :] + 0.3 * directions).reshape(batch, -1, 3)
    near_surface = torch.cat([xyz, surface], dim=1)
    cases = [
        ("fuller than K", xyz, centres, 0.4, 48),
        ("emptier than K", xyz, centres, 0.1, 200),
        ("empty balls", xyz, centres + 10, 0.1, 8),
    ]
    if device != "cpu":
        cases.append(("points on the surface", near_surface, centres, 0.3, 100))
    for name, cloud, ball_centres, radius, neighbours in cases:
        expected = _torch_path(sampling.ball_query, cloud, ball_centres, radius, neighbours)
        planes = cloud.transpose(1, 2).contiguous()
        got = kernels.ball_query(
            planes, (cloud**2).sum(-1), ball_centres.contiguous(), (ball_centres**2).sum(-1), radius**2, neighbours
        )
        if not torch.equal(got, expected):
            rows = (got != expected).any(-1).sum().item()
            wrong.append(f"ball query, {name}: {rows} of {got.shape[0] * got.shape[1]} balls differ")
    return wrong


def main() -> None:
    """Print what the kernels get wrong on CPU tensors (run with ``TRITON_INTERPRET=1``)."""
    for line in mismatches("cpu"):
        print(line)


if __name__ == "__main__":
    main()
