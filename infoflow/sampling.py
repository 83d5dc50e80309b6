"""Sample propagation: draws of every hidden layer's S_l given each input.

Each of m inputs is fed `num_replicas` = R times with fresh noise. Replica r
of input x yields one draw of S_l | X = x for every hidden layer l at once
(S_l depends only on the noise of layers 1..l-1, and each layer is used on its
own). All (x, r) draws pooled are draws of S_l with X uniform over the inputs.
"""

from __future__ import annotations

import functools
from typing import Any
from typing import Optional
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from infoflow import checks
from infoflow import models


def layer_names(model: nn.Module, variables: Any, example_input) -> list[str]:
  """Names of the model's hidden (noisy) layers, in layer order.

  Args:
    model: a Flax module whose hidden layers use `models.GaussianNoise`.
    variables: its variables (e.g. {'params': ...}).
    example_input: one batch of inputs, shape (b, ...).

  Returns:
    The layers' names (their noise modules' paths; see `infoflow.models`):
    ['T1', 'T2', ...] for an `MLP`, ['conv1', 'conv2', 'dense3'] for the
    default `CNN`.
  """
  _, state = model.apply(variables, example_input, deterministic=True, mutable=['intermediates'])
  return list(models.pre_noise_activations(state['intermediates']))


def sample_layers(
  key: jax.Array,
  model: nn.Module,
  variables: Any,
  inputs,
  num_replicas: int,
  *,
  layers: Optional[Sequence[str]] = None,
  input_chunk: int = 256,
) -> dict[str, jax.Array]:
  """Draws R samples of S_l | X = x for each input x and hidden layer l.

  Args:
    key: PRNG key for the noise.
    model: a Flax module using `models.GaussianNoise` (e.g. `models.MLP`).
    variables: the model's variables, e.g. {'params': params}.
    inputs: (m, ...) inputs, m >= 1.
    num_replicas: R >= 1, noisy passes per input.
    layers: names of the layers to keep (default all, e.g. ['T1', 'T2']);
      wide layers not analysed need not be kept.
    input_chunk: inputs per forward pass (each pass holds input_chunk * R
      examples); bounds memory.

  Returns:
    Ordered dict: layer name -> (m, R, d_l) float array of pre-noise
    activations S_l (feature dims flattened, e.g. conv maps to h*w*c).

  Raises:
    ValueError: on an empty or non-finite input set, R < 1, input_chunk < 1,
      a key that is not a PRNG key, or an unknown layer name.
  """
  inputs = jnp.asarray(checks.check_float_array(inputs, 'inputs', min_rank=1, shape='(m, ...)'))
  checks.check_count(num_replicas, 'num_replicas')
  input_chunk = checks.check_count(input_chunk, 'input_chunk')
  checks.check_key(key)
  names = layer_names(model, variables, inputs[:1])
  if layers is None:
    layers = names
  unknown = [name for name in layers if name not in names]
  if unknown:
    raise ValueError(f'unknown layers {unknown}; the model has {names}.')
  per_layer = _sample(
    key, model, variables, inputs, num_replicas, tuple(layers), min(input_chunk, inputs.shape[0])
  )
  # Built outside jit: jit returns dicts with sorted keys, not layer order.
  return dict(zip(layers, per_layer))


@functools.partial(jax.jit, static_argnums=(1, 4, 5, 6))
def _sample(key, model, variables, inputs, num_replicas, layers, input_chunk):
  m = inputs.shape[0]
  x = checks.pad_to_multiple(inputs, input_chunk, fill=0)
  padded = x.shape[0]
  x = x.reshape((-1, input_chunk) + inputs.shape[1:])
  keys = jax.random.split(key, x.shape[0])

  def one_chunk(args):
    chunk_key, chunk = args
    batch = jnp.repeat(chunk, num_replicas, axis=0)  # (c * R, ...)
    _, state = model.apply(
      variables,
      batch,
      deterministic=False,
      rngs={models.NOISE_RNG: chunk_key},
      mutable=['intermediates'],
    )
    found = models.pre_noise_activations(state['intermediates'])
    return tuple(found[name].reshape(input_chunk, num_replicas, -1) for name in layers)

  per_layer = jax.lax.map(one_chunk, (keys, x))
  return tuple(s.reshape((padded,) + s.shape[2:])[:m] for s in per_layer)


def noise_free_layers(
  model: nn.Module, variables: Any, inputs, *, layers: Optional[Sequence[str]] = None
) -> dict[str, jax.Array]:
  """The noise-free representations S_l(x) of each input, (m, d_l) per layer.

  These are what the binning estimators and clustering measures use.

  Raises:
    ValueError: `layers` names a layer the model lacks (the message lists
      the model's layers).
  """
  _, state = model.apply(
    variables, jnp.asarray(inputs), deterministic=True, mutable=['intermediates']
  )
  found = models.pre_noise_activations(state['intermediates'])
  names = list(found) if layers is None else layers
  unknown = [name for name in names if name not in found]
  if unknown:
    raise ValueError(f'unknown layers {unknown}; the model has {list(found)}.')
  return {name: found[name].reshape(found[name].shape[0], -1) for name in names}
