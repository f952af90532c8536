"""Sweep analysis for mario-exp: run folders in, comparison tables, curves and an HTML report out.

One module per job: ``runs`` (find and load run folders), ``episodes`` / ``evals`` (read one
run's episodes.csv / evals.csv), ``groups`` (runs -> configurations), ``scores`` (per-run
numbers), ``stats`` (IQM, bootstrap, probability of improvement), ``summary``
(per-configuration numbers), ``curves`` (smoothing, common grid, CI bands), ``tables``
(formatting), ``plots``, ``report`` (markdown and HTML), ``pipeline`` (ties them together and
writes the folder), ``errors`` and ``synthetic`` (a fake sweep, for tests and
benchmarks/analysis_bench.py).

Nothing here imports torch or gym: ``analyze.py`` must start fast and the layering stays one-way
(the trainer writes files, the analysis only reads them, by the names of ``rundir/contract.py``).
"""
