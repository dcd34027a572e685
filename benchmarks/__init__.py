"""Benchmarks of the denoise models against classical methods."""
