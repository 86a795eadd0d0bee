"""What a task score or pass rate is worth: its confidence interval, and a short rendering."""

from __future__ import annotations

import math

Z_95 = 1.959963984540054  # two-sided 95 %


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % by default); (0, 1) when n is 0.

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or n
    successes, which small samples (5-50 cases) hit often.
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def shown_interval(interval: tuple[float, float] | None) -> str:
    """`95% CI 0.51-0.79`, or '' when there is none."""
    if interval is None:
        return ""
    return f"95% CI {interval[0]:.2f}-{interval[1]:.2f}"
