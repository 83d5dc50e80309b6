"""Sharded estimators agree with the single-device ones.

JAX fixes the number of CPU devices when it starts, so the multi-device run
happens in a subprocess with XLA_FLAGS=--xla_force_host_platform_device_count
=4; it prints its results as JSON and the test compares them.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from infoflow.estimators._src import sharding

_SCRIPT = r"""
import json
import jax
import numpy as np
from jax.sharding import Mesh
import infoflow

assert jax.device_count() == 4, jax.devices()
four = Mesh(np.asarray(jax.devices()), ('data',))
one = Mesh(np.asarray(jax.devices()[:1]), ('data',))
rng = np.random.default_rng(0)
beta = 0.005
means = np.tanh(3 * rng.normal(size=(1024, 1, 3)))
layer = (means + beta * rng.normal(size=(1024, 16, 3))).astype(np.float32)
wide = rng.normal(size=(700, 3)).astype(np.float32)
key = jax.random.key(0)
out = {}
for name, mesh in [('four', four), ('one', one), ('default', None)]:
  # 1001 draws: not a multiple of the device count (padding is exercised).
  dense = infoflow.mixture_entropy(key, wide, 0.5, num_mc=1001, mesh=mesh)
  pooled, report = infoflow.pooled_mixture_entropy(
      key, layer, beta, num_mc=1001, mesh=mesh, return_report=True)
  batched = infoflow.mixture_entropies(key, layer[:90], beta, num_mc=16,
                                       mesh=mesh)
  log_g, err, _ = infoflow.pruned_log_mixture_density(
      layer[:7, 0] + beta, layer, beta, mesh=mesh)
  labels = (means[:, 0, 0] > 0).astype(np.int32)
  post = {}
  for method in ('pruned', 'dense'):
    info, rep = infoflow.posterior_information(
        key, layer[:512], beta, labels=labels[:512], num_mc=1001,
        method=method, mesh=mesh, return_report=True)
    post[method] = [float(info.mi_input.nats), float(info.mi_label.nats),
                    float(info.entropy.nats), rep.method]
  out[name] = dict(
      posterior=post,
      dense=float(dense.nats), pooled=float(pooled.nats),
      method=report.method, bound=report.truncation_bound,
      batched=np.asarray(batched.nats).tolist(),
      log_g=np.asarray(log_g).tolist(), err=float(np.max(err)))
from infoflow.estimators._src import sharding
from infoflow import train as train_lib
out['seed_devices'] = {
    str(n): (None if train_lib.seed_sharding(n) is None else
             len(train_lib.seed_sharding(n).mesh.devices.ravel()))
    for n in (1, 2, 5, 6, 8)}
print('RESULT' + json.dumps(out))
"""


@pytest.fixture(scope='module')
def results():
  env = dict(os.environ)
  env['XLA_FLAGS'] = env.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count=4'
  env['JAX_PLATFORMS'] = 'cpu'
  proc = subprocess.run(
    [sys.executable, '-c', _SCRIPT],
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
    check=False,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = [x for x in proc.stdout.splitlines() if x.startswith('RESULT')][-1]
  return json.loads(line[len('RESULT') :])


@pytest.mark.parametrize('name', ['four', 'default'])
def test_sharded_equals_single_device(results, name):
  got, want = results[name], results['one']
  assert got['method'] == want['method'] == 'pruned'
  assert got['bound'] <= 1e-6 and got['err'] <= 1e-6
  # Same draws; only the query blocking differs (rounding ~1e-6 nats).
  assert abs(got['dense'] - want['dense']) <= 1e-5
  assert abs(got['pooled'] - want['pooled']) <= 1e-5
  np.testing.assert_allclose(got['batched'], want['batched'], atol=1e-5)
  np.testing.assert_allclose(got['log_g'], want['log_g'], atol=1e-5, rtol=1e-6)
  for method in ('pruned', 'dense'):
    assert got['posterior'][method][3] == want['posterior'][method][3] == method
    np.testing.assert_allclose(
      got['posterior'][method][:3], want['posterior'][method][:3], atol=1e-5
    )


def test_resolve():
  assert sharding.resolve(None) is None  # one CPU device in this process
  with pytest.raises(ValueError, match='Mesh'):
    sharding.resolve('all devices')
  assert sharding.bucket(1) == 8 and sharding.bucket(9) == 16


def test_seeds_spread_over_the_largest_dividing_device_count(results):
  assert results['seed_devices'] == {'1': None, '2': 2, '5': None, '6': 3, '8': 4}
