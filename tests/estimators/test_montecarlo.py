"""The Monte Carlo loop (infoflow/estimators/_src/montecarlo.py): blocks,
moments, the stopping rule and the cap, directly and through the entropy
estimators."""

import math
import warnings

import helpers
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import infoflow
from infoflow.estimators import entropy
from infoflow.estimators._src import montecarlo


def _key(i=0):
  return jax.random.key(i)


# The adaptive tests share one small mixture, helpers.normal_centres(100,
# 2, seed=8) (one set of compilations).


def test_adaptive_reaches_target_and_pilot_equals_fixed():
  centers = helpers.normal_centres(100, 2, seed=8)
  est = infoflow.mixture_entropy(_key(2), centers, 0.3, target_stderr=0.01)
  assert float(est.stderr) <= 0.01
  assert int(est.num_draws) > montecarlo.BLOCK  # more than the pilot
  # A loose target stops at the pilot: the same draws as a fixed run.
  loose = infoflow.mixture_entropy(_key(2), centers, 0.3, target_stderr=10.0)
  fixed = infoflow.mixture_entropy(_key(2), centers, 0.3, num_mc=montecarlo.BLOCK)
  assert float(loose.nats) == float(fixed.nats)
  assert int(loose.num_draws) == montecarlo.BLOCK


def test_adaptive_stderr_is_honest():
  """Across repeats, the spread of adaptive estimates matches the stderr."""
  centers = helpers.normal_centres(100, 2, seed=8)
  truth = helpers.entropy_quadrature(centers, 0.3, nodes=6)
  runs = [
    infoflow.mixture_entropy(k, centers, 0.3, target_stderr=0.02)
    for k in jax.random.split(_key(3), 20)
  ]
  z = [(float(e.nats) - truth) / float(e.stderr) for e in runs]
  assert all(float(e.stderr) <= 0.02 for e in runs)
  assert 0.5 <= np.std(z) <= 1.6 and abs(np.mean(z)) <= 1.0, z


def test_adaptive_batched_targets_the_mean():
  centers = helpers.normal_centres(100, 2, seed=8).reshape(20, 5, 2)
  est = infoflow.mixture_entropies(_key(4), centers, 0.3, target_stderr=0.01)
  assert est.nats.shape == (20,)
  assert float(est.mean().stderr) <= 0.01
  assert int(est.num_draws[0]) > entropy.BLOCK_PER_MIXTURE


def test_adaptive_cap_warns():
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    est = infoflow.mixture_entropy(
      _key(), helpers.normal_centres(100, 2, seed=8), 0.3, target_stderr=1e-4, max_mc=6144
    )
  assert int(est.num_draws) == 6144
  assert any('mixture_entropy stopped at max_mc = 6144' in str(w.message) for w in caught)


def test_pooled_adaptive_bad_targets():
  centers = np.zeros((4, 2, 1), np.float32)
  with pytest.raises(ValueError, match='max_mc must be an integer >= 2'):
    infoflow.pooled_mixture_entropy(_key(), centers, 1.0, max_mc=1)
  with pytest.raises(TypeError, match='target_stderr'):
    infoflow.pooled_mixture_entropy(_key(), centers, 1.0, target_stderr='x')


# ------------------------------------------------------------ the loop itself


def _normal_blocks(scale=1.0, record=None):
  """draw_block of i.i.d. N(1, scale^2) values of two quantities."""

  def draw_block(key, size):
    if record is not None:
      record.append((key, size))
    return 1.0 + scale * jax.random.normal(key, (2, size))

  return draw_block


def test_iid_variance_is_the_sample_variance_over_the_count():
  values = jnp.asarray([[1.0, 2.0, 4.0, 9.0]])
  mean, variance = montecarlo.iid_variance(values)
  assert float(mean[0]) == pytest.approx(4.0)
  assert float(variance[0]) == pytest.approx(np.var([1, 2, 4, 9], ddof=1) / 4)


def test_moments_merge_independent_blocks():
  moments = montecarlo.Moments()
  moments.add(2, np.array([1.0]), np.array([0.5]))
  moments.add(6, np.array([3.0]), np.array([0.1]))
  assert moments.count == 8
  np.testing.assert_allclose(moments.mean, [(2 * 1 + 6 * 3) / 8])
  np.testing.assert_allclose(moments.stderr(), [math.sqrt(4 * 0.5 + 36 * 0.1) / 8])
  est = moments.estimate(jnp.float32)
  assert est.nats.dtype == jnp.float32 and int(est.num_draws[0]) == 8


def test_fixed_run_blocks_keys_and_even_counts():
  record = []
  moments, met = montecarlo.run(
    _normal_blocks(record=record),
    _key(1),
    num_mc=4999,
    targets=(1e-9,),
    max_mc=10,
    block=2048,
    paired=False,
    monitor=None,
    name='test',
    labels=('x',),
  )
  assert met and moments.count == 5000  # rounded up to even
  assert [size for _, size in record] == [2048, 2048, 904]
  # Block 0 uses the key itself, block i > 0 fold_in(key, i).
  assert jnp.array_equal(jax.random.key_data(record[0][0]), jax.random.key_data(_key(1)))
  folded = jax.random.fold_in(_key(1), 2)
  assert jnp.array_equal(jax.random.key_data(record[2][0]), jax.random.key_data(folded))


def test_adaptive_run_stops_at_the_targets_of_several_quantities():
  moments, met = montecarlo.run(
    _normal_blocks(),
    _key(2),
    num_mc=None,
    targets=(0.02, 0.01),
    max_mc=1 << 20,
    block=256,
    paired=False,
    monitor=lambda m: m.stderr(),
    name='test',
    labels=('a', 'b'),
  )
  stderr = moments.stderr()
  assert met and np.all(stderr <= [0.02, 0.01])
  # The larger ratio decides: var 1 / N <= 1e-4 needs N >= 1e4 draws.
  assert 10_000 <= moments.count <= 12_000 and moments.count % 256 == 0
  assert np.all(np.abs(moments.mean - 1.0) <= 5 * stderr)


def test_adaptive_run_warns_at_the_cap():
  with pytest.warns(
    RuntimeWarning, match=r'test stopped at max_mc = 600 draws: .*stderr of b .*target 1e-06'
  ):
    moments, met = montecarlo.run(
      _normal_blocks(),
      _key(3),
      num_mc=None,
      targets=(10.0, 1e-6),
      max_mc=601,
      block=256,
      paired=True,
      monitor=lambda m: m.stderr(),
      name='test',
      labels=('a', 'b'),
    )
  assert not met and moments.count == 600


def test_fixed_run_under_jit_keeps_traced_moments():
  def mean_of(key):
    moments, _ = montecarlo.run(
      _normal_blocks(),
      key,
      num_mc=600,
      targets=(None,),
      max_mc=2,
      block=256,
      paired=False,
      monitor=None,
      name='test',
      labels=('x',),
    )
    return moments.estimate(jnp.float32).nats

  jitted = jax.jit(mean_of)(_key(4))
  np.testing.assert_allclose(jitted, mean_of(_key(4)), rtol=1e-6)


# ------------------------------------------------------------ issue 22


def test_check_draws_bounds_counts_by_int32():
  assert montecarlo.check_draws(montecarlo.MAX_DRAWS, 'num_mc') == 2**30
  assert 2 * montecarlo.MAX_DRAWS <= np.iinfo(np.int32).max + 1  # even rounding stays in int32
  with pytest.raises(ValueError, match='num_mc must be an integer >= 2'):
    montecarlo.check_draws(1, 'num_mc')
  with pytest.raises(ValueError, match=r'max_mc must be at most MAX_DRAWS = 2\*\*30'):
    montecarlo.check_draws(2**30 + 1, 'max_mc')


def _run_spy(monkeypatch, stop_after=3):
  """Replaces every block of draws by standard normal values, recording the
  block sizes, and stops the run after `stop_after` blocks: what a huge run
  would hold."""
  sizes, run = [], montecarlo.run
  rng = np.random.default_rng(0)

  class Stop(Exception):
    pass

  def spied(draw_block, key, **kwargs):
    def fake_block(block_key, size):
      sizes.append(size)
      if len(sizes) == stop_after:
        raise Stop
      return rng.normal(size=size)

    return run(fake_block, key, **kwargs)

  monkeypatch.setattr(montecarlo, 'run', spied)
  return sizes, Stop


_SAMPLES = np.random.default_rng(0).normal(size=(4, 3, 2)).astype(np.float32)


@pytest.mark.parametrize(
  'call,block',
  [
    (lambda k: infoflow.mixture_entropy(k, _SAMPLES[:, 0], 0.3, num_mc=10**9), montecarlo.BLOCK),
    (lambda k: infoflow.mixture_entropies(k, _SAMPLES, 0.3, num_mc=10**8), 32),
    (lambda k: infoflow.pooled_mixture_entropy(k, _SAMPLES, 0.3, num_mc=10**9), montecarlo.BLOCK),
    (lambda k: infoflow.posterior_information(k, _SAMPLES, 0.3, num_mc=10**9), montecarlo.BLOCK),
    (
      lambda k: infoflow.mixture_entropy(k, _SAMPLES[:, 0], 0.3, target_stderr=1e-9, max_mc=2**30),
      montecarlo.BLOCK,
    ),
  ],
  ids=['mixture_entropy', 'mixture_entropies', 'pooled', 'posterior', 'adaptive'],
)
def test_huge_runs_draw_in_blocks_of_bounded_size(monkeypatch, call, block):
  # Issue 22 row 13: every estimator holds one block of draws at a time
  # whatever num_mc or max_mc (num_mc = 10**9 was reported as 44-52 GB).
  sizes, stop = _run_spy(monkeypatch)
  with pytest.raises(stop):
    call(_key())
  assert sizes == [block] * 3
  assert entropy.BLOCK_PER_MIXTURE == 32


@pytest.mark.parametrize(
  'call,name',
  [
    (lambda k: infoflow.mixture_entropy(k, _SAMPLES[:, 0], 0.3, num_mc=2**31), 'num_mc'),
    (
      lambda k: infoflow.mixture_entropy(k, _SAMPLES[:, 0], 0.3, target_stderr=1e-9, max_mc=2**40),
      'max_mc',
    ),
    (lambda k: infoflow.mixture_entropies(k, _SAMPLES, 0.3, num_mc=2**31), 'num_mc'),
    (lambda k: infoflow.pooled_mixture_entropy(k, _SAMPLES, 0.3, num_mc=2**30 + 2), 'num_mc'),
  ],
  ids=['mixture_entropy', 'adaptive', 'mixture_entropies', 'pooled'],
)
def test_draw_counts_beyond_the_limit_raise_before_drawing(monkeypatch, call, name):
  # Issue 22 row 13: num_mc=2**31 or max_mc=2**40 ran for hours, then the
  # int32 count overflowed (a raw OverflowError).
  sizes, _ = _run_spy(monkeypatch, stop_after=1)
  with pytest.raises(ValueError, match=f'{name} must be at most MAX_DRAWS'):
    call(_key())
  assert sizes == []


def _compiled_temp_bytes(num_mc):
  centers = jnp.asarray(helpers.normal_centres(8))
  jitted = jax.jit(lambda k, c: infoflow.mixture_entropy(k, c, 0.3, num_mc=num_mc).nats)
  analysis = jitted.lower(_key(), centers).compile().memory_analysis()
  if analysis is None:
    pytest.skip('this backend reports no memory analysis')
  return analysis.temp_size_in_bytes


def test_a_fixed_run_under_jit_holds_one_block():
  # Issue 22 row 13: under jit the blocks were unrolled into one program
  # that kept every draw (~50 bytes a draw: 44-52 GB for num_mc = 10**9, the
  # reported out-of-memory) and compiled in time linear in num_mc. Now the
  # full blocks run in one lax.fori_loop; 10**9 is compiled, not run.
  few = _compiled_temp_bytes(3 * montecarlo.BLOCK)
  assert _compiled_temp_bytes(16 * montecarlo.BLOCK) <= few
  assert _compiled_temp_bytes(10**9) <= 1.5 * few  # (another remainder block)


def test_batched_blocks_looped_under_jit_equal_the_eager_run():
  # (The loop itself: test_fixed_run_under_jit_keeps_traced_moments.)
  grouped = jnp.asarray(helpers.normal_centres(8)).reshape(4, 2, 3)
  num_mc = 3 * entropy.BLOCK_PER_MIXTURE + 4  # block 0, two looped blocks, a remainder
  jitted = jax.jit(lambda k, c: infoflow.mixture_entropies(k, c, 0.3, num_mc=num_mc))(
    _key(), grouped
  )
  eager = infoflow.mixture_entropies(_key(), grouped, 0.3, num_mc=num_mc)
  np.testing.assert_allclose(jitted.nats, eager.nats, rtol=1e-6)
  np.testing.assert_allclose(jitted.stderr, eager.stderr, rtol=1e-5, atol=1e-8)
