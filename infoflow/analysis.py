"""Per-epoch analysis of a network: information, then pluggable measures.

`analyse` turns one network (parameters of one seed) into one metrics record
in the format of docs/run_record.md: sample-propagation estimates of I(X;T_l)
and I(T_l;Y) for the chosen layers of a noisy network, then every hook in
`hooks` applied to the noise-free representations S_l(x) of the evaluation
inputs. A hook is any function

    hook(representations: dict[str, (m, d_l) array], labels: (m,) int array,
         num_classes: int) -> dict[str, Any]

whose result is merged into the record (JSON-serialisable values). The built-in
hooks give the binning estimators and clustering measures of docs/method.md,
section 6, and the exact I(X;T) of a one-unit first layer (`quadrature_hook`,
section 7); researchers add their own the same way.
"""

from __future__ import annotations

from typing import Any
from typing import Callable
from typing import Mapping
from typing import Optional
from typing import Sequence

import flax.linen as nn
import jax
import numpy as np

from infoflow import information
from infoflow import record as record_lib
from infoflow import sampling
from infoflow.measures import binning
from infoflow.measures import clustering
from infoflow.measures import quadrature

Hook = Callable[[Mapping[str, Any], np.ndarray, int], dict]
KNN_K = 10  # neighbours of the k-NN label agreement
# Most analysed inputs `quadrature_hook` takes (its cost is m^2 x nodes).
QUADRATURE_MAX_INPUTS = 256


def binning_hook(bin_sizes: Sequence[float]) -> Hook:
  """H(Bin(T_l)) and I(Bin(T_l); Y) of every layer for several bin sizes."""
  bin_sizes = [float(b) for b in bin_sizes]

  def hook(representations, labels, num_classes):
    names = list(representations)
    result = binning.binned_information_all(
      [representations[n] for n in names], labels, num_classes, bin_sizes
    )
    entropy = np.asarray(result.entropy)
    mi_label = np.asarray(result.mi_label)
    record = {'bin_sizes': bin_sizes}
    for i, name in enumerate(names):
      record[name] = {'entropy': entropy[i].tolist(), 'mi_label': mi_label[i].tolist()}
    return {'binning': record}

  return hook


def clustering_hook(beta: float, *, k: int = KNN_K, max_inputs_for_clusters: int = 5000) -> Hook:
  """Class similarity, scatter ratio, k-NN agreement, beta-clusters per layer.

  The beta-clusters are counted two ways at radius ``4 beta``: single
  linkage (``num_clusters``, ``cluster_entropy``) and the greedy packing that
  cannot chain (``packed_clusters``, ``packed_cluster_entropy``; docs/method.md,
  section 6); entropies in nats.

  Each layer's measures come from one compiled program
  (`clustering.layer_measures`: one chunked pass over the pairs of inputs
  for the neighbours and the clusters, more only where tight clusters need
  checking); all layers are dispatched before any result is copied to the
  host, once. Programs are compiled once per layer width (and input count),
  then reused at every epoch.

  Args:
    beta: the noise scale at which clusters are told apart (the network's
      beta; for a deterministic net, the scale of interest).
    k: neighbours for the k-NN label agreement.
    max_inputs_for_clusters: skip the cluster count above this many inputs.
  """

  def hook(representations, labels, num_classes):
    with_clusters = len(labels) <= max_inputs_for_clusters
    measures = jax.device_get(
      {
        name: clustering.layer_measures(
          reps, labels, num_classes, beta=beta if with_clusters else None, k=min(k, len(labels) - 1)
        )
        for name, reps in representations.items()
      }
    )
    record = {}
    for name, values in measures.items():
      record[name] = {
        'within': float(values.within),
        'between': float(values.between),
        'gap': float(values.gap),
        'scatter_ratio': float(values.scatter_ratio),
        'knn_agreement': float(values.knn_agreement),
      }
      if with_clusters:
        record[name]['num_clusters'] = int(values.num_clusters)
        record[name]['cluster_entropy'] = float(values.cluster_entropy)
        record[name]['packed_clusters'] = int(values.packed_clusters)
        record[name]['packed_cluster_entropy'] = float(values.packed_cluster_entropy)
    return {'clustering': record}

  return hook


def quadrature_layers(layer_widths: Mapping[str, int], beta: float) -> list[str]:
  """The layers whose exact I(X;T) `quadrature_hook` computes: those of one
  unit that are Gaussian given X, T = s(X) + N(0, beta^2) with s a function
  of the input.

  In the networks of `infoflow.models` every hidden layer is noisy, so only
  the first one qualifies: T_l for l >= 2 given X is a mixture over the noise
  of the layers below, not one Gaussian. Empty for a deterministic net
  (beta = 0), whose I(X;T) is not finite.

  Args:
    layer_widths: {layer: units}, input to output (`setup.AnalysisPlan`).
    beta: the network's noise std.
  """
  first = next(iter(layer_widths), None)
  if beta <= 0 or first is None or layer_widths[first] != 1:
    return []
  return [first]


def quadrature_hook(
  beta: float, layers: Sequence[str], *, max_inputs: int = QUADRATURE_MAX_INPUTS
) -> Hook:
  """Exact I(X;T_l) in nats of one-unit `layers` that are Gaussian given X.

  For T = s(X) + N(0, beta^2), X uniform over the m analysed inputs (as in the
  estimate of the record's `information`), I(X;T) is a one-dimensional
  integral over the mixture of the m Gaussians N(s(x_i), beta^2), computed by
  `infoflow.measures.quadrature.gaussian_channel_information` from the
  noise-free outputs s(x_i). Its cost grows as m^2 times the number of nodes,
  so it is skipped above `max_inputs` inputs (the minimal examples have 4
  and 8). The record gets `quadrature: {layer: nats}`, for every seed at
  every analysed epoch: the reference the Monte Carlo estimate is checked
  against (docs/method.md, section 7). Choose the layers with
  `quadrature_layers`.

  Raises (when called):
    ValueError: a layer missing from the representations, or not of one unit.
  """
  beta, layers = float(beta), list(layers)

  def hook(representations, labels, num_classes):
    if not layers or len(labels) > max_inputs:
      return {}
    exact = {}
    for name in layers:
      points = np.asarray(representations[name], np.float64)
      if points.ndim != 2 or points.shape[1] != 1:
        raise ValueError(
          f'quadrature_hook needs one-unit layers; layer {name} has representations of shape '
          f'{points.shape}.'
        )
      exact[name] = quadrature.gaussian_channel_information(points[:, 0], beta)
    return {'quadrature': exact}

  return hook


def analyse(
  key: jax.Array,
  model: nn.Module,
  params: Any,
  inputs,
  labels: np.ndarray,
  num_classes: int,
  *,
  beta: float,
  estimated_layers: Sequence[str] = (),
  settings: information.InformationSettings = information.InformationSettings(),
  hooks: Sequence[Hook] = (),
  keep_representations: Optional[Sequence[str]] = None,
) -> tuple[dict, dict[str, np.ndarray]]:
  """Metrics of one network at one epoch: `(record, representations)`.

  Args:
    key, model, params: PRNG key of the analysis (sampling, Monte Carlo); the network.
    inputs, labels, num_classes: (m, ...) inputs, taken as uniform; (m,) int labels; classes.
    beta: the network's noise std; the record's 'information' (of
      `estimated_layers`, e.g. ('T1', 'T2'), see `infoflow.models`) only if > 0.
    settings: how the information is estimated (`information.InformationSettings`).
    hooks: measures of the noise-free representations (fields of the record).
    keep_representations: layers whose noise-free (m, d_l) float32 representations are returned.
  """
  variables, record = {'params': params}, {}
  if beta > 0 and estimated_layers:
    infos = information.network_information(
      key,
      model,
      variables,
      inputs,
      beta,
      labels=labels,
      num_classes=num_classes,
      layers=list(estimated_layers),
      settings=settings,
    )
    record['information'] = record_lib.information_record(infos)
  clean = noise_free_representations(model, variables, inputs)
  for hook in hooks:
    record.update(hook(clean, labels, num_classes))
  return record, {name: clean[name] for name in (keep_representations or ())}


def noise_free_representations(model: nn.Module, variables, inputs) -> dict[str, np.ndarray]:
  """{layer: (m, d_l) float32 host array} of the noise-free network on `inputs`."""
  return {
    name: np.asarray(rep, np.float32)
    for name, rep in sampling.noise_free_layers(model, variables, inputs).items()
  }
