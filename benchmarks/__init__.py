"""Side-by-side benchmarks of the app against what a user would use instead.

Run ``python -m benchmarks [--quick] [--out FILE]`` from the repository root. The cases,
targets and latest numbers are described in ``docs/benchmarks.md``.
"""
