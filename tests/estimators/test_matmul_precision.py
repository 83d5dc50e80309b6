"""The estimators' matrix products ask for full float32 precision.

On recent GPUs JAX's default float32 matmul may round its inputs to
TensorFloat-32 (10-bit mantissa), which would void the rounding bounds of
the dense kernel sums (`infoflow.estimators._src.dense`) and the posterior class
sums. Every product those bounds rely on passes `Precision.HIGHEST`; these
tests trace the estimators under `jax.default_matmul_precision
('tensorfloat32')` and check that every `dot_general` still asks for the
highest precision, so the code overrides the default (CPU runs float32
products exactly either way, so the check is on the program, not the
numbers).
"""

import jax
import jax.extend as jex
import jax.numpy as jnp
import numpy as np
import pytest

from infoflow.data import synthetic
from infoflow.estimators._src import dense
from infoflow.estimators._src import groups as groups_lib
from infoflow.estimators._src import pruned

HIGHEST = jax.lax.Precision.HIGHEST


def _subjaxprs(params):
  for value in params.values():
    values = value if isinstance(value, (tuple, list)) else (value,)
    for v in values:
      if isinstance(v, jex.core.ClosedJaxpr):
        yield v.jaxpr
      elif isinstance(v, jex.core.Jaxpr):
        yield v


def _all_dots(jaxpr):
  for eqn in jaxpr.eqns:
    if eqn.primitive.name == 'dot_general':
      yield eqn
    for sub in _subjaxprs(eqn.params):
      yield from _all_dots(sub)


def _precisions(fn, *args):
  with jax.default_matmul_precision('tensorfloat32'):
    jaxpr = jax.make_jaxpr(fn)(*args).jaxpr
  return [eqn.params['precision'] for eqn in _all_dots(jaxpr)]


def _samples():
  samples, labels = synthetic.layer_samples('multiclass', 32, 4, 3, 0.05, num_classes=3)
  return jnp.asarray(samples), jnp.asarray(labels)


def test_dense_kernel_sums_use_highest_precision():
  samples, _ = _samples()
  flat = samples.reshape(-1, 3)
  precisions = _precisions(lambda q, c: dense.log_mean_kernel(q, c, 0.05), flat[:16], flat)
  assert precisions, 'expected the anchored expansion to use a matrix product'
  assert all(p == (HIGHEST, HIGHEST) for p in precisions), precisions


@pytest.mark.parametrize('per_row', [False, True])
def test_posterior_class_sums_use_highest_precision(per_row):
  samples, labels = _samples()
  onehot = jax.nn.one_hot(labels, 3)
  log_mass = jnp.asarray(np.random.default_rng(0).normal(size=(5, 32)), jnp.float32)
  hot = jnp.broadcast_to(onehot, (5, 32, 3)) if per_row else onehot

  def sums(log_mass, hot):
    acc = dense.accumulate(dense.empty(5, 3, jnp.float32), log_mass, hot)
    return dense.finish(acc)

  precisions = _precisions(sums, log_mass, hot)
  assert precisions and all(p == (HIGHEST, HIGHEST) for p in precisions), precisions


def test_candidate_block_uses_no_reduced_precision_product():
  samples, labels = _samples()
  groups = groups_lib.build_groups(samples, 0.05)
  onehot = jax.nn.one_hot(labels, 3)
  q = samples[:8, 0] + 0.05
  home = jnp.arange(8, dtype=jnp.int32)
  shift = jnp.zeros(8)
  inv_two_var = jnp.asarray(0.5 / 0.05**2, jnp.float32)
  precisions = _precisions(
    lambda q, home, shift: pruned.candidate_block(q, home, shift, groups, onehot, inv_two_var, 2),
    q,
    home,
    shift,
  )
  assert all(p == (HIGHEST, HIGHEST) for p in precisions), precisions
