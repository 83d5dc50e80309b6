"""Argument checks and preparation for `infoflow.estimators.posterior`.

`check_arguments` validates a call of `posterior_information`;
`prepare` computes a layer's label entropy H(Y), chooses the dense or pruned
method and lays the samples out for the kernels (`posterior_passes.Layout`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow.estimators import groups as groups_lib
from infoflow.estimators import posterior_passes as passes

# method='auto' prunes only when the neighbour lists cover at most this share
# of the inputs (SZT: T1, T2; the crowded T3-T5 go dense, skipping far chunks).
PRUNE_MAX_LIST_FRACTION = 1 / 16


def check_arguments(
  key, samples, beta, labels, num_classes, num_mc, targets, max_mc, prune_tolerance
):
  """The checked (samples, labels, num_classes, C / beta) of a call."""
  checks.check_key(key)
  samples = jnp.asarray(checks.check_float_array(samples, 'samples', rank=3, shape='(m, R, d)'))
  checks.check_positive_scalar(beta, 'beta')
  ratio = checks.check_beta_resolves(samples, beta, centers_name='samples')
  if num_mc is not None:
    checks.check_count(num_mc, 'num_mc', minimum=2)
  checks.check_count(max_mc, 'max_mc', minimum=2)
  for name, value in zip(('target_stderr_mi_input', 'target_stderr_mi_label'), targets):
    checks.check_positive_scalar(value, name)
  checks.check_positive_scalar(prune_tolerance, 'prune_tolerance')
  if labels is None:
    return samples, None, 1, ratio
  labels, num_classes = checks.check_labels(
    labels, 'labels', num_rows=samples.shape[0], num_classes=num_classes, rows_name='samples'
  )
  return samples, np.asarray(labels), num_classes, ratio


def prepare(samples, beta, labels, num_classes, method, prune_tolerance):
  """(layout, method, label entropy H(Y)) of a layer's samples."""
  m = samples.shape[0]
  if labels is None:
    onehot = jnp.ones((m, 1), samples.dtype)
    label_entropy = 0.0
  else:
    onehot = jax.nn.one_hot(labels, num_classes, dtype=samples.dtype)
    freq = np.bincount(labels, minlength=num_classes) / m
    freq = freq[freq > 0]
    label_entropy = float(-np.sum(freq * np.log(freq)))
  # The dense pass skips far chunks: it beats pruning unless lists are short.
  method, groups = groups_lib.choose_method(
    method, samples, beta, prune_tolerance, max_list_fraction=PRUNE_MAX_LIST_FRACTION
  )
  return passes.make_layout(samples, onehot, groups), method, label_entropy
