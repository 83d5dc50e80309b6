"""Training noisy networks: pure train steps and epochs, several seeds at once.

Everything here is a pure function of explicit state and PRNG keys, so a run
resumed from a checkpoint reproduces an uninterrupted run exactly:

- the minibatch order of epoch e is a permutation drawn from
  fold_in(shuffle_key, e);
- the noise of epoch e comes from fold_in(noise_key, e): for small nets the
  whole epoch's noise is drawn at once (one call for all layers, far faster
  on CPU), for large ones step by step; it reaches the noise layers as
  `given_noise`;
- an epoch is a `lax.scan` over its minibatches and a stretch of epochs a
  `lax.fori_loop` with a traced trip count (one compilation for any length);
- `num_seeds` independent runs are trained together with `jax.vmap` over a
  leading seed axis of the state.

Losses: softmax cross-entropy on the logits (classification, nats), or mean
squared error against real targets (the leaky-ReLU minimal example). The last
partial minibatch of an epoch is kept (padded and masked), so every training
example is seen once per epoch.

Orthonormality regularisation (docs/method.md, section 7): after every update each
hidden Dense kernel K (in x out) becomes K - alpha (K K^T K - K), which pulls
its singular values towards 1.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
import optax

from infoflow import models
from infoflow import normal

# Largest number of noise values drawn at once for a whole epoch (64 MB per
# run; vmapped seeds multiply it).
_EPOCH_NOISE_BUDGET = 1 << 24


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TrainState:
  """Parameters, optimiser state, step and keys of one (or, vmapped, many) runs.

  Attributes:
    params: model parameters.
    opt_state: optax state.
    step: number of updates so far (int32 scalar).
    epoch: number of completed epochs (int32 scalar).
    shuffle_key: raw key data (uint32) of the minibatch order; raw so
      that checkpoints store plain arrays.
    noise_key: raw key data of the training noise.
  """

  params: Any
  opt_state: Any
  step: jax.Array
  epoch: jax.Array
  shuffle_key: jax.Array
  noise_key: jax.Array


def make_optimizer(name: str, learning_rate: float, **kwargs) -> optax.GradientTransformation:
  """An optax optimiser by name ('adam', 'sgd', 'momentum', 'adamw')."""
  if name == 'adam':
    return optax.adam(learning_rate, **kwargs)
  if name == 'adamw':
    return optax.adamw(learning_rate, **kwargs)
  if name == 'sgd':
    return optax.sgd(learning_rate, **kwargs)
  if name == 'momentum':
    return optax.sgd(learning_rate, momentum=kwargs.pop('momentum', 0.9), **kwargs)
  raise ValueError(f'unknown optimizer {name!r}; known: adam, adamw, sgd, momentum.')


def init_state(
  key: jax.Array, model: nn.Module, optimizer: optax.GradientTransformation, example_input
) -> TrainState:
  """A fresh state: parameters from `key`, zero step and epoch."""
  init_key, shuffle_key, noise_key = jax.random.split(key, 3)
  params = model.init(init_key, example_input, deterministic=True)['params']
  return TrainState(
    params=params,
    opt_state=optimizer.init(params),
    step=jnp.zeros((), jnp.int32),
    epoch=jnp.zeros((), jnp.int32),
    shuffle_key=jax.random.key_data(shuffle_key),
    noise_key=jax.random.key_data(noise_key),
  )


def init_states(
  key: jax.Array,
  num_seeds: int,
  model: nn.Module,
  optimizer: optax.GradientTransformation,
  example_input,
) -> TrainState:
  """`num_seeds` independent states stacked along a leading axis."""
  keys = jax.random.split(key, num_seeds)
  return jax.vmap(lambda k: init_state(k, model, optimizer, example_input))(keys)


def random_order(key: jax.Array, n: int) -> jax.Array:
  """A uniformly random permutation of range(n), int32 (n,), sorting fast.

  The algorithm of `jax.random.permutation` (stable sorts by random keys,
  repeated until ties are negligible), with each sort key packed into one
  uint64: random bits above, the current position below. A single-operand
  integer sort is several times faster on CPU than the key-value sort that
  `jax.random.permutation` uses, and the minibatch order is drawn every
  epoch. With b = 64 - ceil(log2 n) random bits per round, ceil(3 log2(n) /
  b) rounds make the chance that any pair stays tied through every round at
  most ~1/n (the bound `jax.random.permutation` uses): one round up to
  n = 2^16 (MNIST's 60,000), where ~n^2 / 2^(b+1) < 1e-4 pairs tie per draw.
  The 64-bit keys are built with x64 enabled locally (the result is int32
  either way); the bits come from `infoflow.normal.random_words`. Past 2^24
  items it falls back to `jax.random.permutation`.
  """
  index_bits = max(1, (n - 1).bit_length())
  if index_bits > 24:
    return jax.random.permutation(key, n).astype(jnp.int32)
  random_bits = 64 - index_bits
  rounds = max(1, math.ceil(3 * math.log2(max(n, 2)) / random_bits))
  order = jnp.arange(n, dtype=jnp.int32)
  for i in range(rounds):
    words = normal.random_words(jax.random.fold_in(key, i), 2 * n)
    with jax.enable_x64(True):
      high = words[:n].astype(jnp.uint64) << jnp.uint64(32)
      low = words[n:].astype(jnp.uint64) >> jnp.uint64(index_bits)
      packed = high | low << jnp.uint64(index_bits) | jnp.arange(n, dtype=jnp.uint64)
      moved = (jnp.sort(packed) & jnp.uint64((1 << index_bits) - 1)).astype(jnp.int32)
    order = moved if i == 0 else order[moved]
  return order


def per_example_loss(outputs, targets, loss: str):
  """Cross-entropy (targets: int labels) or squared error (float targets)."""
  if loss == 'cross_entropy':
    return optax.softmax_cross_entropy_with_integer_labels(outputs, targets)
  if loss == 'mse':
    return jnp.sum((outputs - targets) ** 2, axis=-1)
  raise ValueError(f"unknown loss {loss!r}; known: 'cross_entropy', 'mse'.")


def orthonormalize(params, alpha: float):
  """K <- K - alpha (K K^T K - K) for every hidden Dense kernel.

  A Dense kernel is a 2-D `kernel` parameter (convolution kernels are 4-D);
  every one is updated except the output layer's (module `models.OUTPUT`),
  whatever the hidden layers' module names. Biases are left alone.
  """

  def update(path, leaf):
    names = [getattr(p, 'key', '') for p in path]
    if (
      alpha
      and len(names) >= 2
      and names[-1] == 'kernel'
      and names[-2] != models.OUTPUT
      and jnp.ndim(leaf) == 2
    ):
      k = leaf
      return k - alpha * (k @ (k.T @ k) - k)
    return leaf

  return jax.tree_util.tree_map_with_path(update, params)


def _noise_shapes(model: nn.Module, params, inputs, batch_size: int) -> dict:
  """{path: shape} of every noise layer's draw for one minibatch.

  Found by `jax.eval_shape` of the sown pre-noise activations; empty for a
  deterministic net (beta = 0: no noise to draw).
  """
  if getattr(model, 'beta', None) == 0:
    return {}
  example = jax.ShapeDtypeStruct((batch_size,) + inputs.shape[1:], inputs.dtype)

  def pre_noise(params, x):
    _, state = model.apply({'params': params}, x, deterministic=True, mutable=['intermediates'])
    return state['intermediates']

  return models.pre_noise_activations(jax.eval_shape(pre_noise, params, example))


def _draw_noise(shapes: dict, key: jax.Array, lead: tuple) -> dict:
  """Standard normal noise {path parts: {'z': ...}} for `shapes`.

  Each draw has leading dimensions `lead`. One normal call for all layers,
  then split: on CPU a call per (small) layer costs several times more than
  one call of the same total size.
  """
  if not shapes:
    return {}
  sizes = [math.prod(v.shape) for v in shapes.values()]
  dtype = jnp.result_type(*[v.dtype for v in shapes.values()])
  flat = normal.standard_normal(key, lead + (sum(sizes),), dtype)
  noise, offset = {}, 0
  for (path, shape), size in zip(shapes.items(), sizes):
    node = noise
    for part in path.split('/'):
      node = node.setdefault(part, {})
    node['z'] = flat[..., offset : offset + size].reshape(lead + shape.shape).astype(shape.dtype)
    offset += size
  return noise


def _epoch_batches(state: TrainState, inputs, batch_size: int):
  """(indices, mask) of one epoch's minibatches, each (num_batches, size).

  A fresh random order per epoch; the last batch is padded with index 0 and
  mask 0.
  """
  n = inputs.shape[0]
  num_batches = -(-n // batch_size)
  padded = num_batches * batch_size
  shuffle_key = jax.random.wrap_key_data(state.shuffle_key)
  order = random_order(jax.random.fold_in(shuffle_key, state.epoch), n)
  order = jnp.concatenate([order, jnp.zeros(padded - n, order.dtype)])
  mask = (jnp.arange(padded) < n).astype(inputs.dtype)
  return (order.reshape(num_batches, batch_size), mask.reshape(num_batches, batch_size))


def make_train_epochs(
  model: nn.Module,
  optimizer: optax.GradientTransformation,
  *,
  loss: str,
  batch_size: int,
  orthonormal_alpha: float = 0.0,
) -> Callable[..., TrainState]:
  """Builds `train_epochs(state, inputs, targets, num_epochs) -> state`.

  The returned function trains one run (vmap it over seeds) for a traced
  number of epochs on device-resident `inputs` (n, ...) and `targets` (n,)
  or (n, k), with the noise on.
  """

  def loss_fn(params, x, y, mask, noise):
    outputs = model.apply({'params': params, models.GIVEN_NOISE: noise}, x, deterministic=False)
    losses = per_example_loss(outputs, y, loss)
    return jnp.sum(losses * mask) / jnp.maximum(jnp.sum(mask), 1.0)

  grad_fn = jax.grad(loss_fn)

  def one_epoch(state: TrainState, inputs, targets) -> TrainState:
    indices, masks = _epoch_batches(state, inputs, batch_size)
    num_batches = indices.shape[0]
    # Noise {path: {'z': ...}} for every layer. For small nets the whole
    # epoch's noise is drawn at once (far faster on CPU than a call per
    # step); past `_EPOCH_NOISE_BUDGET` numbers (conv nets) it is drawn step
    # by step to bound memory.
    shapes = _noise_shapes(model, state.params, inputs, batch_size)
    noise_key = jax.random.wrap_key_data(state.noise_key)
    epoch_key = jax.random.fold_in(noise_key, state.epoch)
    per_step = sum(math.prod(v.shape) for v in shapes.values())
    whole_epoch = num_batches * per_step <= _EPOCH_NOISE_BUDGET
    epoch_noise = _draw_noise(shapes, epoch_key, (num_batches,)) if whole_epoch else None
    batches = (indices, masks, jnp.arange(num_batches), epoch_noise)

    def step(carry, batch):
      params, opt_state, t = carry
      idx, m, i, z = batch
      if z is None:
        z = _draw_noise(shapes, jax.random.fold_in(epoch_key, i), ())
      grads = grad_fn(params, inputs[idx], targets[idx], m, z)
      updates, opt_state = optimizer.update(grads, opt_state, params)
      params = optax.apply_updates(params, updates)
      params = orthonormalize(params, orthonormal_alpha)
      return (params, opt_state, t + 1), None

    (params, opt_state, t), _ = jax.lax.scan(
      step, (state.params, state.opt_state, state.step), batches
    )
    return dataclasses.replace(
      state, params=params, opt_state=opt_state, step=t, epoch=state.epoch + 1
    )

  def train_epochs(state: TrainState, inputs, targets, num_epochs) -> TrainState:
    return jax.lax.fori_loop(0, num_epochs, lambda _, s: one_epoch(s, inputs, targets), state)

  return train_epochs


def make_evaluate(
  model: nn.Module, *, loss: str, batch_size: int = 1024
) -> Callable[..., dict[str, jax.Array]]:
  """Builds `evaluate(params, inputs, targets, labels, key) -> metrics`.

  Metrics: 'loss' and 'accuracy' noise-free, 'loss_noisy' and
  'accuracy_noisy' with the noise on (one draw per example from `key`).
  Accuracy compares the argmax of the outputs with `labels` (for the
  regression example: the nearest target value is the predicted class, see
  `launch`'s configs). Evaluated in chunks of `batch_size`.
  """

  def outputs_of(params, x, deterministic, key):
    return model.apply(
      {'params': params}, x, deterministic=deterministic, rngs={models.NOISE_RNG: key}
    )

  def evaluate(params, inputs, targets, labels, key, class_values=None):
    n = inputs.shape[0]
    chunks = -(-n // batch_size)
    padded = chunks * batch_size
    pad = lambda a: jnp.pad(a, [(0, padded - n)] + [(0, 0)] * (a.ndim - 1))
    x = pad(inputs).reshape((chunks, batch_size) + inputs.shape[1:])
    t = pad(targets).reshape((chunks, batch_size) + targets.shape[1:])
    y = pad(labels).reshape(chunks, batch_size)
    mask = (jnp.arange(padded) < n).reshape(chunks, batch_size)
    keys = jax.random.split(key, chunks)

    def one(args):
      xb, tb, yb, mb, kb = args
      out = {}
      for suffix, deterministic in (('', True), ('_noisy', False)):
        o = outputs_of(params, xb, deterministic, kb)
        losses = per_example_loss(o, tb, loss)
        if class_values is None:
          predicted = jnp.argmax(o, axis=-1)
        else:  # regression: the class whose target value is nearest
          predicted = jnp.argmin(jnp.abs(o - class_values[None, :]), axis=-1)
        out['loss' + suffix] = jnp.sum(losses * mb)
        out['accuracy' + suffix] = jnp.sum((predicted == yb) * mb)
      return out

    sums = jax.lax.map(one, (x, t, y, mask, keys))
    return {k: jnp.sum(v) / n for k, v in sums.items()}

  return evaluate


SEED_AXIS = 'seeds'


def seed_sharding(num_seeds: int, devices=None) -> NamedSharding | None:
  """Sharding of a leading seed axis over as many devices as divide it.

  Independent runs trained together (vmapped over their leading axis) need
  no communication, so each device can train a share of them. Uses the
  largest k <= len(devices) dividing `num_seeds`; None when k = 1.

  Args:
    num_seeds: length of the seed axis.
    devices: devices to use (default: all local devices).
  """
  devices = list(jax.local_devices() if devices is None else devices)
  k = (
    max(c for c in range(1, min(len(devices), num_seeds) + 1) if num_seeds % c == 0)
    if num_seeds >= 1
    else 1
  )
  if k <= 1:
    return None
  return NamedSharding(Mesh(np.asarray(devices[:k]), (SEED_AXIS,)), P(SEED_AXIS))
