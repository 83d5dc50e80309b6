"""Noisy networks (Flax linen): Gaussian noise after every hidden activation.

Hidden layer l computes S_l = f_l(T_{l-1}) (affine or convolution, then the
activation) and T_l = S_l + Z_l with Z_l ~ N(0, beta^2 I), i.i.d. across
units, layers and inputs; the next layer sees the noisy T_l. The output layer
(logits) has no noise. An `MLP` with `readout=False` has no output layer: its
output is the last hidden layer's T_L itself (noisy when the noise is on),
as in the minimal tanh example, where the noisy neuron's output is what the
loss compares with the targets. With beta = 0, or `deterministic=True`, the
network is the ordinary deterministic one.

`GaussianNoise` is the one building block: it adds the noise and sows the
pre-noise S_l into the `intermediates` collection under the name
`PRE_NOISE`, which is how `infoflow.sampling` reads the layers' samples. A
user's own module that calls `GaussianNoise` after its activations works with
the samplers unchanged.

Layer names. A hidden layer is named by the path of its `GaussianNoise`
module, and that name is used everywhere: the samplers' dicts, the configs'
`analysis.estimated_layers`, the run records (run.json, metrics.jsonl, the
representation files), `launch.plot --layer` and figure file names. Layers
are numbered from 1, input to output, as T_1..T_L in the paper:

  MLP  `T1`, `T2`, ..., `TL` (every hidden layer is dense).
  CNN  named by kind and numbered across the whole net: `conv1`, `conv2`,
       `dense3` for two convolutions and one dense layer.

Layer NAME's weights (kernel and bias) are the submodule `NAME_weights`
(`T1_weights`, `conv1_weights`, ...); the output layer's are `OUTPUT`
('output'). The value stored under a layer's name is its pre-noise S_l, not
the noisy T_l.

Initialisation (`init_scheme`, on `MLP` and `CNN`, for every weight layer,
the output layer included; `init` itself is the Flax method that draws the
parameters):

  'lecun_normal'    Flax's default: kernel ~ N(0, 1/fan_in) (truncated
                    normal, rescaled to that variance), bias = 0.
  'uniform_fan_in'  PyTorch's `nn.Linear` / `nn.Conv2d` default, as in the
                    authors' code: kernel and bias ~ U(-1/sqrt(fan_in),
                    1/sqrt(fan_in)), variance 1/(3 fan_in).
  'zeros'           every kernel and bias 0 (the minimal tanh neuron: w = b = 0
                    at the start). With more than one unit in a layer the
                    units get the same gradients and stay equal: use it for
                    one-unit layers.

fan_in is the number of inputs of one unit: the input width of a dense
layer, kernel_height x kernel_width x input channels of a convolution.

Randomness comes only from the `'noise'` PRNG stream (`rngs={'noise': key}`),
or, when the caller supplies it, from standard normal draws passed in the
`given_noise` variable collection (`{'T1': {'z': ...}, ...}`: one entry per
layer, at the layer's name); there is no hidden state.
"""

from __future__ import annotations

from typing import Callable
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

PRE_NOISE = 'pre_noise'
OUTPUT = 'output'  # the output (logits) layer's submodule, in MLP and CNN
NOISE_RNG = 'noise'
# Optional variable collection of caller-drawn standard normal noise, one
# entry {'z': array shaped like S} per noise layer, at the layer's path.
GIVEN_NOISE = 'given_noise'

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
  'tanh': jnp.tanh,
  'relu': nn.relu,
  # Slope 0.1, the paper's second minimal example.
  'leaky_relu': lambda x: nn.leaky_relu(x, negative_slope=0.1),
  'linear': lambda x: x,
}


# Initialisation schemes (see the module docstring).
INITS = ('lecun_normal', 'uniform_fan_in', 'zeros')


def initializers(scheme: str, fan_in: int):
  """`(kernel_init, bias_init)` of `scheme` for units with `fan_in` inputs.

  'lecun_normal': kernel N(0, 1/fan_in) (Flax's `lecun_normal`), bias 0.
  'uniform_fan_in': kernel and bias U(-b, b) with b = 1/sqrt(fan_in) (PyTorch's
  `nn.Linear` / `nn.Conv2d` default: `kaiming_uniform_(a=sqrt(5))` gives
  b = sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in) for the weights).
  'zeros': kernel and bias 0.

  Raises:
    ValueError: an unknown `scheme` (the message lists `INITS`), or
      `fan_in` < 1.
  """
  if scheme not in INITS:
    raise ValueError(f'unknown init scheme {scheme!r}; known: {", ".join(INITS)}.')
  if fan_in < 1:
    raise ValueError(f'fan_in must be >= 1; got {fan_in}.')
  if scheme == 'lecun_normal':
    return nn.initializers.lecun_normal(), nn.initializers.zeros_init()
  if scheme == 'zeros':
    return nn.initializers.zeros_init(), nn.initializers.zeros_init()
  bound = 1.0 / float(fan_in) ** 0.5

  def uniform(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return uniform, uniform


def get_activation(name: str) -> Callable[[jax.Array], jax.Array]:
  """The activation called `name`; a clear error lists the known ones."""
  try:
    return ACTIVATIONS[name]
  except KeyError:
    raise ValueError(f'unknown activation {name!r}; known: {sorted(ACTIVATIONS)}') from None


class GaussianNoise(nn.Module):
  """T = S + beta Z, Z ~ N(0, I); records S in `intermediates`.

  Attributes:
    beta: noise standard deviation (>= 0). 0 gives the identity.
    transposed: x is laid out (units, batch), the transpose of the usual
      (batch, units) (see `MLP`). What is sown, and the given noise, keep the
      usual layout, so samplers and trainers need not know.
  """

  beta: float
  transposed: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, *, deterministic: bool = False) -> jax.Array:
    """Adds the noise.

    Args:
      x: pre-noise activations S of any shape; (units, batch) when
        `transposed`.
      deterministic: when True, no noise is added (noise-free evaluation).

    Returns:
      T, the same shape and dtype as `x`.
    """
    if self.beta < 0:
      raise ValueError(f'beta must be >= 0, got {self.beta}.')
    if self.transposed and x.ndim != 2:
      raise ValueError(f'transposed noise needs (units, batch), got {x.shape}.')
    usual = x.T if self.transposed else x
    self.sow('intermediates', PRE_NOISE, usual)
    if deterministic or self.beta == 0:
      return x
    if self.has_variable(GIVEN_NOISE, 'z'):
      # Standard normal noise supplied by the caller (the trainer draws a
      # whole epoch's noise in one call, which is much faster on CPU).
      z = self.get_variable(GIVEN_NOISE, 'z')
    else:
      z = jax.random.normal(self.make_rng(NOISE_RNG), usual.shape, x.dtype)
    return x + self.beta * (z.T if self.transposed else z)


class _UnitsByBatchDense(nn.Module):
  """`nn.Dense` (same parameters and initialisers) on (features, batch) input.

  Returns kernel^T h + bias, (features_out, batch), for h (features, batch).
  Parameters are float32, as `nn.Dense`'s are by default; `init_scheme`
  names the initialisation (`initializers`).
  """

  features: int
  init_scheme: str = 'lecun_normal'

  @nn.compact
  def __call__(self, h: jax.Array) -> jax.Array:
    kernel_init, bias_init = initializers(self.init_scheme, h.shape[0])
    kernel = self.param('kernel', kernel_init, (h.shape[0], self.features), jnp.float32)
    bias = self.param('bias', bias_init, (self.features,), jnp.float32)
    return jnp.einsum('io,ib->ob', kernel, h) + bias[:, None]


class MLP(nn.Module):
  """Noisy multilayer perceptron with a linear, noiseless output layer (or none).

  Parameters are those of `nn.Dense` layers (kernel (in, out), bias (out,)).
  Inside, activations are laid out (units, batch): XLA multiplies the narrow
  matrices of these networks faster that way, and an SZT training epoch on
  CPU took 1.3x (one run) to 1.6x (8 vmapped seeds) less time than with
  `nn.Dense` on (batch, units). What the noise layers sow, and the noise
  given to them, are (batch, units) as everywhere else.

  Attributes:
    widths: hidden layer widths, e.g. (10, 7, 5, 4, 3) for the SZT network.
    num_outputs: output (logit or regression) dimension.
    activation: 'tanh', 'relu', 'leaky_relu' (slope 0.1) or 'linear'.
    beta: noise standard deviation after every hidden activation.
    init_scheme: initialisation of every layer's kernel and bias,
      'lecun_normal' (Flax's default), 'uniform_fan_in' (PyTorch's) or
      'zeros' (see `initializers`).
    readout: True: a linear output layer on top of T_L. False: no output
      layer; the output is T_L = S_L + Z_L itself (S_L without noise), so
      `num_outputs` must equal the last width.

  Submodule names: `T{l}` (GaussianNoise; the layer's name) and
  `T{l}_weights` for l = 1..L, then `output` (with `readout`).
  """

  widths: Sequence[int]
  num_outputs: int
  activation: str = 'tanh'
  beta: float = 0.0
  init_scheme: str = 'lecun_normal'
  readout: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, *, deterministic: bool = False) -> jax.Array:
    """Args: x of shape (batch, ...); flattened. Returns (batch, num_outputs).

    Raises:
      ValueError: `readout` False with no hidden layer, or a last width other
        than `num_outputs`.
    """
    if not self.readout and (not self.widths or self.widths[-1] != self.num_outputs):
      raise ValueError(
        f'an MLP without readout outputs its last hidden layer, so its last width must equal '
        f'num_outputs = {self.num_outputs}; got widths {tuple(self.widths)}.'
      )
    act = get_activation(self.activation)
    h = x.reshape((x.shape[0], -1)).T
    names = mlp_layer_names(len(self.widths))
    for name, width in zip(names, self.widths):
      h = act(_UnitsByBatchDense(width, self.init_scheme, name=f'{name}_weights')(h))
      h = GaussianNoise(self.beta, transposed=True, name=name)(h, deterministic=deterministic)
    if not self.readout:
      return h.T
    return _UnitsByBatchDense(self.num_outputs, self.init_scheme, name=OUTPUT)(h).T


class CNN(nn.Module):
  """Small noisy CNN for MNIST: convolutions, max pooling, dense layers.

  Each convolution (SAME padding, stride 1) is followed by the activation,
  the noise, then 2x2 max pooling; then the dense hidden layers (activation,
  noise); then a linear noiseless output. The default is the four-layer net
  of the `mnist` configs: conv 8 (5x5) - conv 16 (5x5) - dense 10 - output.

  Attributes:
    conv_features: output channels of each convolution.
    dense_widths: widths of the dense hidden layers.
    num_outputs: number of classes.
    activation: as in `MLP`.
    beta: noise standard deviation.
    kernel_size: convolution window.
    init_scheme: as in `MLP`; a convolution's fan_in is kernel_size^2 x input
      channels.

  Layer names: `conv{l}` then `dense{l}`, numbered from 1 over all hidden
  layers in order (e.g. `conv1`, `conv2`, `dense3`); each is the name of the
  layer's GaussianNoise submodule, and its weights are `{name}_weights`.
  Then `output`.
  """

  conv_features: Sequence[int] = (8, 16)
  dense_widths: Sequence[int] = (10,)
  num_outputs: int = 10
  activation: str = 'relu'
  beta: float = 0.0
  kernel_size: int = 5
  init_scheme: str = 'lecun_normal'

  @nn.compact
  def __call__(self, x: jax.Array, *, deterministic: bool = False) -> jax.Array:
    """Args: x of shape (batch, height, width, channels). Returns logits."""
    act = get_activation(self.activation)
    names = cnn_layer_names(len(self.conv_features), len(self.dense_widths))
    window = (self.kernel_size, self.kernel_size)
    for name, features in zip(names, self.conv_features):
      kernel_init, bias_init = initializers(self.init_scheme, self.kernel_size**2 * x.shape[-1])
      conv = nn.Conv(
        features, window, kernel_init=kernel_init, bias_init=bias_init, name=f'{name}_weights'
      )
      x = GaussianNoise(self.beta, name=name)(act(conv(x)), deterministic=deterministic)
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = x.reshape((x.shape[0], -1))
    for name, width in zip(names[len(self.conv_features) :], self.dense_widths):
      x = act(self._dense(width, x, f'{name}_weights'))
      x = GaussianNoise(self.beta, name=name)(x, deterministic=deterministic)
    return self._dense(self.num_outputs, x, OUTPUT)

  def _dense(self, width: int, x: jax.Array, name: str) -> jax.Array:
    """`nn.Dense(width)` named `name`, initialised by `self.init_scheme`, on x."""
    kernel_init, bias_init = initializers(self.init_scheme, x.shape[-1])
    return nn.Dense(width, kernel_init=kernel_init, bias_init=bias_init, name=name)(x)


def mlp_layer_names(num_layers: int) -> list[str]:
  """The layer names of an `MLP` with `num_layers` hidden layers: T1, T2..."""
  return [f'T{l}' for l in range(1, num_layers + 1)]


def cnn_layer_names(num_conv: int, num_dense: int) -> list[str]:
  """The layer names of a `CNN`: conv1..conv{num_conv}, then dense layers
  numbered on from there (e.g. conv1, conv2, dense3)."""
  return [f'conv{l}' for l in range(1, num_conv + 1)] + [
    f'dense{l}' for l in range(num_conv + 1, num_conv + num_dense + 1)
  ]


def pre_noise_activations(intermediates) -> dict[str, jax.Array]:
  """The S_l sown by every `GaussianNoise`, in call (= layer) order.

  Args:
    intermediates: the `intermediates` collection returned by
      `model.apply(..., mutable=['intermediates'])`.

  Returns:
    An ordered dict from the layer's name, the path of its noise module
    ('T1', 'conv1', 'block/T2', ...), to its pre-noise activations, batch
    first (as passed to the layer, or its transpose for a `transposed`
    layer).
  """
  found = {}

  def walk(tree, prefix):
    for name, value in tree.items():
      if name == PRE_NOISE:
        # sow appends to a tuple; one call per apply gives one entry.
        found[prefix] = value[-1]
      elif hasattr(value, 'items'):
        walk(value, f'{prefix}/{name}' if prefix else name)

  walk(intermediates, '')
  return found
