"""Small statistics helpers shared by the benchmark drivers."""


def percentile(samples, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(samples)
    rank = max(1, -(-len(s) * p // 100))  # ceil(n * p / 100)
    return s[int(rank) - 1]


def fmt_ms(seconds):
    return f"{seconds * 1e3:.1f} ms"
