r"""Benchmark of the Gaussian-mixture entropy estimator.

    python -m launch.bench_entropy [--cases=dense_d3,dense_d10,dense_d64,szt_like]

For each case, every method evaluates the same Monte Carlo draws
y = c[owner] + beta z and turns log g(y) into the per-draw values
v = (d/2) log(2 pi e beta^2) - log g(y) - ||z||^2/2 + ... (the control-variate
form of `infoflow.entropy`); their mean is the entropy estimate. Methods:

  infoflow   `infoflow.entropy.entropy_draw_values` (jit warm, float32)
  numpy64    brute-force float64 NumPy logsumexp over all centres (the
             reference; on a random subset of draws where the full set would
             take minutes, as the table says)
  sklearn    scikit-learn KernelDensity(bandwidth=beta, rtol=1e-3), the tree
             estimator the paper's authors used

Each method runs in its own process so its peak memory (resident set size
above the process's baseline after imports) is its own. The table reports
wall time, peak memory, kernel evaluations per second (draws x centres /
time), |difference| of each method's estimate from the float64 reference on
the same draws, infoflow's Monte Carlo standard error, and speed ratios.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time

from absl import app
from absl import flags
import numpy as np

_CASES = flags.DEFINE_list(
    'cases', ['dense_d3', 'dense_d10', 'dense_d64', 'szt_like'],
    'Cases to run.')
_SKLEARN = flags.DEFINE_bool('sklearn', True, 'Also time scikit-learn.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed repeats (best is kept).')


def make_case(name: str):
  """Returns (centers float32 (n, d), beta, num_mc, reference_subset)."""
  rng = np.random.default_rng(0)
  if name.startswith('dense_d'):
    dim = int(name[len('dense_d'):])
    centers = rng.normal(size=(16_384, dim))
    # beta equal to the per-coordinate spread of the centres.
    return centers.astype(np.float32), 1.0, 8192, None
  if name == 'szt_like':
    groups, replicas, dim, beta = 4096, 100, 5, 0.005
    # Saturated tanh units: group means near the corners of [-1, 1]^d.
    means = np.tanh(3.0 * rng.normal(size=(groups, 1, dim)))
    spread = beta * rng.normal(size=(groups, replicas, dim))
    centers = (means + spread).reshape(-1, dim)
    # 409,600 centres: brute force over all 8192 draws would take minutes.
    return centers.astype(np.float32), beta, 8192, 1024
  raise ValueError(f'unknown case {name!r}')


def _draws(centers, num_mc):
  import jax  # pylint: disable=g-import-not-at-top
  from infoflow import entropy  # pylint: disable=g-import-not-at-top
  owner, z = entropy.monte_carlo_draws(jax.random.key(0), centers.shape[0],
                                       centers.shape[1], num_mc)
  return np.asarray(owner), np.asarray(z)


def _values_from_log_density(log_g, z, dim, beta):
  """Control-variate per-draw values from log g(y) (float64)."""
  h0 = 0.5 * dim * np.log(2 * np.pi * np.e * beta**2)
  log_gauss = -0.5 * dim * np.log(2 * np.pi * beta**2)
  return h0 - (log_g - log_gauss + 0.5 * np.sum(z.astype(np.float64)**2, 1))


def _run_infoflow(centers, beta, owner, z, repeats):
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from infoflow import entropy  # pylint: disable=g-import-not-at-top
  fn = jax.jit(entropy.entropy_draw_values)
  args = (jnp.asarray(centers), beta, jnp.asarray(owner), jnp.asarray(z))
  fn(*args).block_until_ready()
  best = np.inf
  for _ in range(repeats):
    start = time.perf_counter()
    values = fn(*args).block_until_ready()
    best = min(best, time.perf_counter() - start)
  return np.asarray(values, np.float64), best


def _run_numpy(centers, beta, owner, z, repeats):
  del repeats  # minutes per run: once is enough
  c64 = centers.astype(np.float64)
  y = c64[owner] + beta * z.astype(np.float64)
  start = time.perf_counter()
  c_sq = np.sum(c64 * c64, 1)
  out = np.empty(len(y))
  for lo in range(0, len(y), 256):
    q = y[lo:lo + 256]
    # Float64 keeps the expansion accurate (rounding ~1e-16 |c|^2).
    sq = np.maximum(np.sum(q * q, 1)[:, None] + c_sq[None] - 2 * q @ c64.T, 0)
    a = -sq / (2 * beta**2)
    top = a.max(1)
    out[lo:lo + 256] = top + np.log(np.exp(a - top[:, None]).sum(1))
  log_g = (out - np.log(len(c64))
           - 0.5 * c64.shape[1] * np.log(2 * np.pi * beta**2))
  elapsed = time.perf_counter() - start
  return _values_from_log_density(log_g, z, c64.shape[1], beta), elapsed


def _run_sklearn(centers, beta, owner, z, repeats):
  from sklearn.neighbors import KernelDensity  # pylint: disable=g-import-not-at-top
  del repeats
  c64 = centers.astype(np.float64)
  y = c64[owner] + beta * z.astype(np.float64)
  start = time.perf_counter()
  kde = KernelDensity(bandwidth=beta, rtol=1e-3).fit(c64)
  log_g = kde.score_samples(y)
  elapsed = time.perf_counter() - start
  return _values_from_log_density(log_g, z, c64.shape[1], beta), elapsed


_METHODS = {'infoflow': _run_infoflow, 'numpy64': _run_numpy,
            'sklearn': _run_sklearn}


def _rss_mb():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(method, case, subset, repeats, queue):
  """Runs one method on one case in a fresh process; reports time, memory."""
  centers, beta, num_mc, _ = make_case(case)
  owner, z = _draws(centers, num_mc)
  if subset is not None:
    owner, z = owner[subset], z[subset]
  # Import the method's libraries before taking the baseline.
  if method == 'infoflow':
    import infoflow  # pylint: disable=g-import-not-at-top,unused-import
  elif method == 'sklearn':
    import sklearn.neighbors  # pylint: disable=g-import-not-at-top,unused-import
  baseline = _rss_mb()
  values, seconds = _METHODS[method](centers, beta, owner, z, repeats)
  queue.put((values, seconds, max(_rss_mb() - baseline, 0.0)))


def _measure(method, case, subset=None):
  ctx = mp.get_context('spawn')
  queue = ctx.Queue()
  proc = ctx.Process(target=_worker, args=(method, case, subset, _REPEATS.value, queue))
  proc.start()
  result = queue.get()
  proc.join()
  return result


def run_case(case):
  """Measures all methods on one case; returns table rows."""
  centers, beta, num_mc, reference_subset = make_case(case)
  n, dim = centers.shape
  subset = None
  if reference_subset is not None:
    subset = np.sort(np.random.default_rng(1).choice(
        num_mc, reference_subset, replace=False))
  values, seconds, memory = _measure('infoflow', case)
  rows = {'infoflow': (values, seconds, memory, num_mc)}
  ref_values, ref_seconds, ref_memory = _measure('numpy64', case, subset)
  count = num_mc if subset is None else len(subset)
  rows['numpy64'] = (ref_values, ref_seconds, ref_memory, count)
  if _SKLEARN.value:
    sk = _measure('sklearn', case, subset)
    rows['sklearn'] = sk + (count,)

  picked = slice(None) if subset is None else subset
  reference = ref_values.mean()
  stderr = values.std(ddof=1) / np.sqrt(len(values))
  out = []
  for method, (vals, secs, mem, draws) in rows.items():
    mine = vals.mean() if method != 'infoflow' else vals[picked].mean()
    evals = draws * n / secs
    out.append(dict(
        case=case, n=n, d=dim, beta=beta, method=method, draws=draws,
        seconds=secs, memory_mb=mem, gevals=evals / 1e9,
        estimate=vals.mean(), diff=abs(mine - reference),
        stderr=stderr if method == 'infoflow' else float('nan'),
        speedup=evals / (ref_values.size * n / ref_seconds),
        subset=subset is not None))
  return out


def format_table(rows):
  header = (f"{'case':<10} {'n':>7} {'d':>3} {'beta':>6} {'method':<9} "
            f"{'draws':>6} {'time s':>8} {'peak MB':>8} {'Geval/s':>8} "
            f"{'entropy':>9} {'|diff|':>9} {'stderr':>8} {'vs np64':>8}")
  lines = [header, '-' * len(header)]
  for r in rows:
    note = ' *' if r['subset'] and r['method'] != 'infoflow' else ''
    stderr = '' if np.isnan(r['stderr']) else f"{r['stderr']:.2e}"
    lines.append(
        f"{r['case']:<10} {r['n']:>7} {r['d']:>3} {r['beta']:>6.3g} "
        f"{r['method']:<9} {r['draws']:>6} {r['seconds']:>8.3f} "
        f"{r['memory_mb']:>8.0f} {r['gevals']:>8.3f} {r['estimate']:>9.4f} "
        f"{r['diff']:>9.2e} {stderr:>8} {r['speedup']:>7.1f}x{note}")
  lines.append(
      '* on a random subset of the draws (brute force over all would take '
      'minutes); |diff| compares every method on that same subset.')
  lines.append('|diff|: |estimate - float64 brute force| on identical draws '
               '(nats). vs np64: kernel evaluations/s relative to numpy64.')
  return '\n'.join(lines)


def main(argv):
  del argv
  rows = []
  for case in _CASES.value:
    print(f'running {case} ...', flush=True)
    rows.extend(run_case(case))
  print(format_table(rows))


if __name__ == '__main__':
  app.run(main)
