"""Benchmarks, run by hand (docs/benchmarks.md): never timed tests."""
