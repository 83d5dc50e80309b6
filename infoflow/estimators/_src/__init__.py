"""Internals of `infoflow.estimators` (kernels, draws, the Monte Carlo loop).

Not a public API: the module list is in `infoflow.estimators`.
"""
