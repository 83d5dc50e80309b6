"""The posterior pass: per-draw values of I(X;T), I(T;Y) and h(T) for a block.

For R samples s_{x,r} of each of m inputs x, the layer's law is the mixture
g = (1/(m R)) sum_{x,r} N(s_{x,r}, beta^2 I). A block of stratified draws
t = s_{x,r} + beta z ~ g (`draws.stratified_draws` over the inputs in
`draws.input_order`) is evaluated against every input at once: the
per-input kernel sums L_x(t) (`dense` module, "posterior sums") give

    log g(t) + (d/2) log(2 pi beta^2) + ||z||^2 / 2 = log sum_x e^{L_x} - log(m R),
    H(X | T=t), H(Y | T=t),

and from them the five per-draw values of `ROWS`, whose means are h(T),
I(X;T), I(T;Y), h(T|X) and h(T|Y) (`values`; the derivation is in
`infoflow.estimators.posterior`). The same pass without labels is the
pooled entropy h(T) of `infoflow.estimators.entropy.pooled_mixture_entropy`:
one dense kernel and one pruned kernel for both.

Evaluation. `dense_pass` sums, for each block of draws, every chunk of
inputs that can matter (`dense.dense_rows`; the far chunks are bounded,
within half the prune_tolerance). The pruned path
(`pruned.posterior_sums_pruned`) sums each draw's top-K candidate inputs
and certifies the rest. `Problem.method` says which ('auto': the rule of
`groups.choose_method`, pruning only when the neighbour lists cover at most
PRUNE_MAX_LIST_FRACTION of the inputs: the dense pass skips far chunks, so
it beats pruning unless the lists are short). Draws are split over a device
mesh (`sharding`).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow.estimators._src import dense
from infoflow.estimators._src import draws as draws_lib
from infoflow.estimators._src import groups as groups_lib
from infoflow.estimators._src import montecarlo
from infoflow.estimators._src import pruned
from infoflow.estimators._src import sharding

# The rows of the per-draw values of a block (`values`).
ROWS = ('entropy', 'mi_input', 'mi_label', 'conditional_entropy', 'label_conditional_entropy')
# method='auto' prunes only when the neighbour lists cover at most this share
# of the inputs (SZT: T1, T2; the crowded T3-T5 go dense, skipping far chunks).
PRUNE_MAX_LIST_FRACTION = 1 / 16
_DENSE_CENTERS = 2048  # centres per step of the dense scan
# The monitored rows' names in the cap's warning.
_LABELS = dict(mi_input='I(X;T)', mi_label='I(T;Y)', entropy='h(T)')


@dataclasses.dataclass(frozen=True)
class Layout:
  """A layer's samples laid out for the kernels (arrays are device-side).

  The dense pass sees the inputs in `order` (a space-filling curve), so that
  each chunk of group_chunk inputs is compact and far chunks can be skipped.
  """

  centers: jax.Array  # (m', R, d) in `order`, m' padded to a multiple of the chunk
  valid: jax.Array  # (m', R)
  dense_onehot: jax.Array  # (m', C) labels in `order`
  bounds: tuple  # `dense.chunk_bounds` of the chunks
  group_chunk: int
  onehot: jax.Array  # (m, C) labels in input order (the groups')
  groups: object  # `Groups` of the samples (input order) for the pruned path, else None
  order: jax.Array  # (m,) inputs in `draws.input_order`: the strata

  @property
  def dense_args(self):
    """The arrays every dense evaluation takes."""
    return (self.centers, self.valid, self.dense_onehot, self.bounds)


def make_layout(samples, onehot, groups) -> Layout:
  """Pads the inputs to a multiple of the dense chunk (masked padding)."""
  m, r, _ = samples.shape
  order = draws_lib.input_order(samples)
  centers, labels = samples[order], onehot[order]
  chunk = max(1, min(m, _DENSE_CENTERS // r))
  padded = -(-m // chunk) * chunk
  pad = padded - m
  valid = jnp.ones((m, r), bool)
  if pad:
    centers = jnp.concatenate([centers, jnp.repeat(centers[:1], pad, 0)])
    valid = jnp.concatenate([valid, jnp.zeros((pad, r), bool)])
    labels = jnp.concatenate([labels, jnp.zeros((pad, onehot.shape[1]), onehot.dtype)])
  bounds = dense.chunk_bounds(centers, valid, chunk)
  return Layout(centers, valid, labels, bounds, chunk, onehot, groups, order)


@dataclasses.dataclass(frozen=True)
class Problem:
  """What every block of draws needs (host-side bookkeeping).

  Attributes:
    samples: (m, R, d) samples (R = 1 when every input's replicas coincide).
    beta: noise standard deviation.
    layout: the samples laid out for the kernels.
    method: 'dense' or 'pruned'.
    prune_tolerance, rounding_tolerance: nats (`dense`, `pruned`).
    mesh: a resolved mesh, or None.
    label_entropy: H(Y) of the labels, nats (0 without labels).
    num_classes: C (1 without labels).
    has_labels: whether labels were given.
    deterministic: use the closed form h(T|X) = (d/2) log(2 pi e beta^2).
  """

  samples: jax.Array
  beta: float
  layout: Layout
  method: str
  prune_tolerance: float
  rounding_tolerance: float
  mesh: object
  label_entropy: float
  num_classes: int
  has_labels: bool
  deterministic: bool


def make_problem(
  samples,
  beta,
  labels,
  num_classes,
  deterministic_given_x,
  method,
  prune_tolerance,
  rounding_tolerance,
  mesh,
) -> Problem:
  """The `Problem` of checked, rescaled samples.

  Identical replicas (`draws.replicas_identical`) are kept once: g_x =
  N(s_x, beta^2 I) is the same mixture, at 1/R of the cost (the first hidden
  layer). deterministic_given_x None: True exactly when they coincide.

  Args:
    samples: (m, R, d) concrete samples; beta: their noise std.
    labels: (m,) int NumPy labels in [0, num_classes), or None.
    num_classes: C; deterministic_given_x: bool or None.
    method: 'auto', 'dense' or 'pruned'.
    prune_tolerance, rounding_tolerance: nats.
    mesh: a Mesh or None (`sharding.resolve`).
  """
  identical = draws_lib.replicas_identical(samples)
  if deterministic_given_x is None:
    deterministic_given_x = identical
  if identical:
    samples = samples[:, :1]
  m = samples.shape[0]
  if labels is None:
    onehot = jnp.ones((m, 1), samples.dtype)
    label_entropy, num_classes = 0.0, 1
  else:
    onehot = jax.nn.one_hot(labels, num_classes, dtype=samples.dtype)
    freq = np.bincount(labels, minlength=num_classes) / m
    freq = freq[freq > 0]
    label_entropy = float(-np.sum(freq * np.log(freq)))
  method, groups = groups_lib.choose_method(
    method, samples, beta, prune_tolerance, max_list_fraction=PRUNE_MAX_LIST_FRACTION
  )
  return Problem(
    samples,
    float(beta),
    make_layout(samples, onehot, groups),
    method,
    prune_tolerance,
    rounding_tolerance,
    sharding.resolve(mesh),
    label_entropy,
    num_classes,
    labels is not None,
    bool(deterministic_given_x),
  )


@functools.partial(jax.jit, static_argnames=('mesh', 'group_chunk', 'skip', 'rounding_tolerance'))
def dense_pass(q, shift, dense_args, inv_two_var, *, mesh, group_chunk, skip, rounding_tolerance):
  """Every draw against every chunk that can matter (`dense.dense_rows`)."""

  def local(q, shift, dense_args, inv_two_var):
    return dense.dense_rows(
      q, shift, *dense_args, inv_two_var, group_chunk, skip, rounding_tolerance
    )

  return sharding.map_shards(local, mesh, (q, shift), (dense_args, inv_two_var))


@functools.partial(jax.jit, static_argnames=('replicas',))
def _queries(flat, beta, owner, z, *, replicas):
  return (
    flat[owner] + beta * z,
    (owner // replicas).astype(jnp.int32),
    0.5 * jnp.sum(z * z, axis=-1),
  )


def posterior_sums(problem: Problem, key, size: int):
  """One block of `size` stratified draws (`draws.stratified_draws` over
  `layout.order`): per-draw (log sum_x e^{L_x}, H(X | T=t), H(Y | T=t),
  certified error of log g), each (size,), and the refined and dense counts."""
  samples, beta, layout, mesh = problem.samples, problem.beta, problem.layout, problem.mesh
  m, r, dim = samples.shape
  flat = samples.reshape(m * r, dim)
  dtype = samples.dtype
  owner, z = draws_lib.stratified_draws(
    key, layout.order, replicas=r, dim=dim, size=size, dtype=dtype
  )
  q, home, shift = _queries(flat, jnp.asarray(beta, dtype), owner, z, replicas=r)
  inv_two_var = jnp.asarray(0.5 / float(beta) ** 2, dtype)
  q, home, shift = (checks.pad_to_multiple(a, sharding.num_shards(mesh)) for a in (q, home, shift))
  if problem.method == 'pruned':
    (log_sum, h_x, h_y, err), refined, dense_count = pruned.posterior_sums_pruned(
      q,
      home,
      shift,
      layout.groups,
      layout.onehot,
      layout.dense_args,
      inv_two_var,
      group_chunk=layout.group_chunk,
      prune_tolerance=problem.prune_tolerance,
      rounding_tolerance=problem.rounding_tolerance,
      mesh=mesh,
    )
  else:
    log_sum, h_x, h_y, err = dense_pass(
      q,
      shift,
      layout.dense_args,
      inv_two_var,
      mesh=mesh,
      group_chunk=layout.group_chunk,
      skip=problem.prune_tolerance / 2,
      rounding_tolerance=problem.rounding_tolerance,
    )
    refined, dense_count = 0, 0
  return (log_sum[:size], h_x[:size], h_y[:size], err[:size]), refined, dense_count


@functools.partial(jax.jit, static_argnames=('num_inputs', 'num_centers', 'deterministic'))
def _values(log_sum, h_x, h_y, h0, label_entropy, *, num_inputs, num_centers, deterministic):
  """(5, k) per-draw values, rows as in `ROWS` (`values`)."""
  mi_input = math.log(num_inputs) - jnp.minimum(h_x, math.log(num_inputs))
  mi_label = label_entropy - h_y
  if deterministic:
    entropy = mi_input + h0
  else:
    entropy = h0 - (log_sum - math.log(num_centers))
  return jnp.stack([entropy, mi_input, mi_label, entropy - mi_input, entropy - mi_label])


def values(problem: Problem, key, size: int):
  """One block's (5, size) per-draw values (rows `ROWS`), and its certificates.

  With h0 = (d/2) log(2 pi e beta^2) (`draws.gaussian_entropy`), per draw:
  I(X;T): log m - H(X | T=t) (in [0, log m]); I(T;Y): H(Y) - H(Y | T=t);
  h(T): h0 - (log sum_x e^{L_x} - log(m R)), or I(X;T) + h0 for a
  deterministic layer; h(T|X) and h(T|Y): h(T) minus the two.

  Returns:
    (values (5, size), bounds, refined, dense): bounds are the sums over the
    block of the certified shifts of -log g, H(X | T=t) and H(Y | T=t)
    (`dense.shift_bounds`), three floats; refined and dense count the draws
    redone by the pruned path.
  """
  m, r, dim = problem.samples.shape
  (log_sum, h_x, h_y, err), refined, dense_count = posterior_sums(problem, key, size)
  block = _values(
    log_sum,
    h_x,
    h_y,
    draws_lib.gaussian_entropy(dim, problem.beta),
    problem.label_entropy,
    num_inputs=m,
    num_centers=m * r,
    deterministic=problem.deterministic,
  )
  bounds = dense.shift_bounds(err, m, problem.num_classes)
  return block, bounds, refined, dense_count


class Run:
  """The merged blocks of a run of the posterior pass.

  Attributes:
    moments: `montecarlo.Moments` of the (5,) rows of `ROWS`.
    bounds: (3,) sums over the draws of the certified shifts of -log g,
      H(X | T=t), H(Y | T=t).
    refined, dense: draws redone by the pruned path.
    targets_met: whether the standard-error targets were reached.
  """

  def __init__(self):
    self.bounds, self.refined, self.dense = np.zeros(3), 0, 0
    self.moments, self.targets_met = None, True

  def draw_block(self, problem, key, size):
    """`values` of one block; records its certificates."""
    block, bounds, refined, dense = values(problem, key, size)
    self.bounds += bounds
    self.refined, self.dense = self.refined + refined, self.dense + dense
    return block


def run(problem, key, num_mc, targets, max_mc, name) -> Run:
  """Blocks of stratified draws of the posterior pass (`montecarlo.run`).

  Fixed (num_mc) or adaptive: until the standard errors of the rows in
  `targets` (a {row name: nats} mapping, or the (I(X;T), I(T;Y)) pair of
  the posterior form; I(T;Y) only with labels) are met, up to max_mc.
  `name` is the caller's public name (for the cap's warning).
  """
  if not isinstance(targets, dict):
    targets = dict(zip(('mi_input', 'mi_label')[: 1 + problem.has_labels], targets))
  rows = [ROWS.index(row) for row in targets]
  result = Run()
  result.moments, result.targets_met = montecarlo.run(
    lambda block_key, size: result.draw_block(problem, block_key, size),
    key,
    num_mc=num_mc,
    targets=tuple(targets.values()),
    max_mc=max_mc,
    block=montecarlo.BLOCK,
    paired=True,
    monitor=lambda moments: moments.stderr()[rows],
    name=name,
    labels=tuple(_LABELS[row] for row in targets),
  )
  return result
