"""Throughput, memory and timing figures, run from the checkout (not part of the package):
python -m benchmarks.bench, benchmarks.launcher_bench, benchmarks.precision_check,
benchmarks.analysis_bench."""
