r"""Benchmark of the Gaussian-mixture entropy estimator.

    python -m launch.bench_entropy [--cases=dense_d3,dense_d10,dense_d64,
        szt_like,szt_r100_d5,szt_r100_d10,szt_layer_r1000]

For each case, every method evaluates the same Monte Carlo draws
y = c[owner] + beta z and turns log g(y) into the per-draw values
v = (d/2) log(2 pi e beta^2) - log g(y) - ||z||^2/2 + ... (the control-variate
form of `infoflow.estimators.entropy`); their mean is the entropy estimate. Methods:

  infoflow   `infoflow.estimators._src.draws.entropy_draw_values` (jit warm,
             float32); on the szt_r100 cases the pruned path instead
             (`infoflow.estimators._src.groups.build_groups` +
             `infoflow.estimators._src.draws.pruned_draw_values`: group
             building included in the time, every log g certified within
             1e-6 nats of the full sum)
  numpy64    brute-force float64 NumPy logsumexp over all centres (the
             reference; on a random subset of draws where the full set would
             take minutes, as the table says)
  sklearn    scikit-learn KernelDensity(bandwidth=beta, rtol=1e-3), the tree
             estimator the paper's authors used

Each method runs in its own process so its peak memory (resident set size
above the process's baseline after imports, data included) is its own. The
table reports wall time, peak memory, kernel evaluations per second (draws x
centres / time; for pruned runs the dense-equivalent rate), |difference| of
each method's estimate from the float64 reference on the same draws,
infoflow's Monte Carlo standard error, and speed ratios.

SZT scale (issue 7). Synthetic layer samples like the paper's
(`infoflow.data.synthetic.layer_samples`, kind 'separated'): 4096 group
means at tanh-saturated points tanh(3 N(0, I_d)), R replicas spread by beta
= 0.005 around each.
  szt_r100_d5, szt_r100_d10  the pooled entropy at R = 100 (409,600 centres):
             infoflow (pruned) vs scikit-learn on the same 16,384 draws (and
             float64 brute force on 1,024 of them).
  szt_layer_r1000  one whole layer's I(X;T) = h(T) - mean_x h(T | X = x) at
             R = 1000, d = 5: h(T) over 4.1 M pooled centres (pruned,
             adaptive to stderr 0.01 nats) and the 4096 conditional mixtures
             of 1000 centres (batched, adaptive: stderr of their mean <= 0.01
             nats). Rows: the first call in a fresh process (jit compilation
             included) and a second call; peak memory of the process.

The table: `format_table`.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time

from absl import app
from absl import flags
import numpy as np

from infoflow.data import synthetic

_CASES = flags.DEFINE_list(
  'cases',
  [
    'dense_d3',
    'dense_d10',
    'dense_d64',
    'szt_like',
    'szt_r100_d5',
    'szt_r100_d10',
    'szt_layer_r1000',
  ],
  'Cases to run.',
)
_SKLEARN = flags.DEFINE_bool('sklearn', True, 'Also time scikit-learn.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed repeats (best is kept).')


def szt_layer(groups, replicas, dim, beta, seed=0):
  """(groups, replicas, dim) float32 SZT-like layer samples (module doc).

  `infoflow.data.synthetic.layer_samples` of kind 'separated'.
  """
  samples, _ = synthetic.layer_samples('separated', groups, replicas, dim, beta, seed=seed)
  return samples


def make_case(name: str):
  """Returns (centers float32, beta, num_mc, reference_subset).

  Centres are (n, d), or grouped (m, R, d) for the szt_r cases.
  """
  rng = np.random.default_rng(0)
  if name.startswith('szt_r100_d'):
    dim = int(name[len('szt_r100_d') :])
    # 409,600 centres; brute force on 1,024 of the 16,384 draws.
    return szt_layer(4096, 100, dim, 0.005), 0.005, 16_384, 1024
  if name.startswith('dense_d'):
    dim = int(name[len('dense_d') :])
    centers = rng.normal(size=(16_384, dim))
    # beta equal to the per-coordinate spread of the centres.
    return centers.astype(np.float32), 1.0, 8192, None
  if name == 'szt_like':
    groups, replicas, dim, beta = 4096, 100, 5, 0.005
    # Saturated tanh units: group means near the corners of [-1, 1]^d.
    centers = szt_layer(groups, replicas, dim, beta).reshape(-1, dim)
    # 409,600 centres: brute force over all 8192 draws would take minutes.
    return centers, beta, 8192, 1024
  raise ValueError(f'unknown case {name!r}')


def _flat(centers):
  return centers.reshape(-1, centers.shape[-1])


def _draws(centers, num_mc):
  import jax

  from infoflow.estimators._src import draws

  centers = _flat(centers)
  owner, z = draws.monte_carlo_draws(jax.random.key(0), centers.shape[0], centers.shape[1], num_mc)
  return np.asarray(owner), np.asarray(z)


def _log_gauss(dim, beta):
  """-(d/2) log(2 pi beta^2) = d/2 - h0, h0 = (d/2) log(2 pi e beta^2)."""
  from infoflow.estimators import entropy

  return 0.5 * dim - entropy.gaussian_entropy(dim, float(beta))


def _values_from_log_density(log_g, z, dim, beta):
  """Control-variate per-draw values from log g(y) (float64):
  h0 - (log g(y) - log N(0; 0, beta^2 I) + ||z||^2 / 2)."""
  h0 = 0.5 * dim - _log_gauss(dim, beta)
  return h0 - (log_g - _log_gauss(dim, beta) + 0.5 * np.sum(z.astype(np.float64) ** 2, 1))


def _run_infoflow(centers, beta, owner, z, repeats):
  import jax
  import jax.numpy as jnp

  from infoflow.estimators._src import draws

  if centers.ndim == 3:
    return _run_pruned(centers, beta, owner, z, repeats)
  fn = jax.jit(draws.entropy_draw_values)
  args = (jnp.asarray(centers), beta, jnp.asarray(owner), jnp.asarray(z))
  fn(*args).block_until_ready()
  best = np.inf
  for _ in range(repeats):
    start = time.perf_counter()
    values = fn(*args).block_until_ready()
    best = min(best, time.perf_counter() - start)
  return np.asarray(values, np.float64), best


def _run_pruned(centers, beta, owner, z, repeats):
  """Group building plus certified per-draw values, timed together."""
  import jax.numpy as jnp

  from infoflow.estimators._src import draws
  from infoflow.estimators._src import groups as groups_lib

  args = (jnp.asarray(owner), jnp.asarray(z))
  centers = jnp.asarray(centers)

  def run():
    groups = groups_lib.build_groups(centers, beta)
    values, _, info = draws.pruned_draw_values(groups, beta, *args)
    return values.block_until_ready(), info

  run()
  best = np.inf
  for _ in range(repeats):
    start = time.perf_counter()
    values, info = run()
    best = min(best, time.perf_counter() - start)
  print(f'  pruned: {info}', flush=True)
  return np.asarray(values, np.float64), best


def _run_numpy(centers, beta, owner, z, repeats):
  del repeats  # minutes per run: once is enough
  c64 = _flat(centers).astype(np.float64)
  y = c64[owner] + beta * z.astype(np.float64)
  start = time.perf_counter()
  c_sq = np.sum(c64 * c64, 1)
  out = np.empty(len(y))
  for lo in range(0, len(y), 256):
    q = y[lo : lo + 256]
    # Float64 keeps the expansion accurate (rounding ~1e-16 |c|^2).
    sq = np.maximum(np.sum(q * q, 1)[:, None] + c_sq[None] - 2 * q @ c64.T, 0)
    a = -sq / (2 * beta**2)
    top = a.max(1)
    out[lo : lo + 256] = top + np.log(np.exp(a - top[:, None]).sum(1))
  log_g = out - np.log(len(c64)) + _log_gauss(c64.shape[1], beta)
  elapsed = time.perf_counter() - start
  return _values_from_log_density(log_g, z, c64.shape[1], beta), elapsed


def _run_sklearn(centers, beta, owner, z, repeats):
  from sklearn.neighbors import KernelDensity

  del repeats
  c64 = _flat(centers).astype(np.float64)
  y = c64[owner] + beta * z.astype(np.float64)
  start = time.perf_counter()
  kde = KernelDensity(bandwidth=beta, rtol=1e-3).fit(c64)
  log_g = kde.score_samples(y)
  elapsed = time.perf_counter() - start
  return _values_from_log_density(log_g, z, c64.shape[1], beta), elapsed


_METHODS = {'infoflow': _run_infoflow, 'numpy64': _run_numpy, 'sklearn': _run_sklearn}


def _rss_mb():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(method, case, subset, repeats, queue):
  """Runs one method on one case in a fresh process; reports time, memory."""
  # Import the method's libraries before taking the baseline.
  import jax  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import

  baseline = _rss_mb()
  if method == 'layer':
    queue.put(_run_layer(baseline))
    return
  centers, beta, num_mc, _ = make_case(case)
  owner, z = _draws(centers, num_mc)
  if subset is not None:
    owner, z = owner[subset], z[subset]
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


def _run_layer(baseline):
  """One SZT layer's I(X;T) at R = 1000, d = 5: twice (cold, then warm)."""
  import jax

  from infoflow.estimators import entropy

  beta = 0.005
  out = []
  for call in ('cold', 'warm'):
    start = time.perf_counter()
    samples = szt_layer(4096, 1000, 5, beta, seed=1)
    generated = time.perf_counter()
    key_t, key_c = jax.random.split(jax.random.key(len(out)))
    h_t, report = entropy.pooled_mixture_entropy(key_t, samples, beta, return_report=True)
    pooled = time.perf_counter()
    h_tx = entropy.mixture_entropies(key_c, samples, beta, target_stderr=0.01).mean()
    mi = h_t - h_tx
    float(mi.nats)
    end = time.perf_counter()
    out.append(
      dict(
        call=call,
        seconds=end - generated,
        generate=generated - start,
        pooled_seconds=pooled - generated,
        conditional_seconds=end - pooled,
        mi=float(mi.nats),
        stderr=float(mi.stderr),
        h_t=float(h_t.nats),
        h_t_stderr=float(h_t.stderr),
        h_tx=float(h_tx.nats),
        h_tx_stderr=float(h_tx.stderr),
        draws=int(h_t.num_draws),
        cond_draws=int(h_tx.num_draws) // 4096,
        report=repr(report),
        memory_mb=max(_rss_mb() - baseline, 0.0),
      )
    )
    del samples
  return out


def run_layer_case(case):
  """Table rows for szt_layer_r1000 (a single infoflow process)."""
  rows = []
  for r in _measure('layer', case):
    print(
      f'  {r["call"]}: h(T) = {r["h_t"]:.4f} ± {r["h_t_stderr"]:.4f} '
      f'({r["draws"]} draws, {r["pooled_seconds"]:.2f} s), mean '
      f'h(T|X) = {r["h_tx"]:.4f} ± {r["h_tx_stderr"]:.4f} '
      f'({r["cond_draws"]} draws each, {r["conditional_seconds"]:.2f} s)'
      f'; data generation {r["generate"]:.2f} s (not timed)\n'
      f'    {r["report"]}',
      flush=True,
    )
    n = 4096 * 1000
    evals = r['draws'] * n + 4096 * r['cond_draws'] * 1000
    rows.append(
      dict(
        case=case,
        n=n,
        d=5,
        beta=0.005,
        method=f'I(X;T) {r["call"]}',
        draws=r['draws'],
        seconds=r['seconds'],
        memory_mb=r['memory_mb'],
        gevals=evals / r['seconds'] / 1e9,
        estimate=r['mi'],
        diff=float('nan'),
        stderr=r['stderr'],
        speedup=float('nan'),
        vs_sklearn=float('nan'),
        subset=False,
      )
    )
  return rows


def run_case(case):
  """Measures all methods on one case; returns table rows."""
  if case == 'szt_layer_r1000':
    return run_layer_case(case)
  centers, beta, num_mc, reference_subset = make_case(case)
  n, dim = _flat(centers).shape
  # At SZT scale scikit-learn runs on the same draws as infoflow (the
  # speed comparison of issue 7); elsewhere on the reference subset.
  same_draws = case.startswith('szt_r')
  subset = None
  if reference_subset is not None:
    subset = np.sort(np.random.default_rng(1).choice(num_mc, reference_subset, replace=False))
  values, seconds, memory = _measure('infoflow', case)
  rows = {'infoflow': (values, seconds, memory, num_mc)}
  ref_values, ref_seconds, ref_memory = _measure('numpy64', case, subset)
  count = num_mc if subset is None else len(subset)
  rows['numpy64'] = (ref_values, ref_seconds, ref_memory, count)
  if _SKLEARN.value:
    sk = _measure('sklearn', case, None if same_draws else subset)
    rows['sklearn'] = sk + ((num_mc if same_draws else count),)

  picked = slice(None) if subset is None else subset
  reference = ref_values.mean()
  stderr = values.std(ddof=1) / np.sqrt(len(values))
  out = []
  sk_rate = None
  if 'sklearn' in rows:
    sk_rate = rows['sklearn'][3] * n / rows['sklearn'][1]
  for method, (vals, secs, mem, draws) in rows.items():
    on_all = len(vals) == num_mc
    mine = vals[picked].mean() if on_all else vals.mean()
    evals = draws * n / secs
    out.append(
      dict(
        case=case,
        n=n,
        d=dim,
        beta=beta,
        method=method,
        draws=draws,
        seconds=secs,
        memory_mb=mem,
        gevals=evals / 1e9,
        estimate=vals.mean(),
        diff=abs(mine - reference),
        stderr=stderr if method == 'infoflow' else float('nan'),
        speedup=evals / (ref_values.size * n / ref_seconds),
        vs_sklearn=evals / sk_rate if sk_rate else float('nan'),
        subset=subset is not None and not on_all,
      )
    )
  return out


def _opt(value, fmt, suffix=''):
  return '' if np.isnan(value) else f'{value:{fmt}}{suffix}'


def format_table(rows):
  """The rows of `bench_entropy.run_case` as one text table, with its notes."""
  header = (
    f'{"case":<15} {"n":>7} {"d":>3} {"beta":>6} {"method":<14} '
    f'{"draws":>6} {"time s":>8} {"peak MB":>8} {"Geval/s":>8} '
    f'{"entropy":>9} {"|diff|":>9} {"stderr":>8} {"vs np64":>8} '
    f'{"vs sk":>7}'
  )
  lines = [header, '-' * len(header)]
  for r in rows:
    note = ' *' if r['subset'] else ''
    lines.append(
      f'{r["case"]:<15} {r["n"]:>7} {r["d"]:>3} {r["beta"]:>6.3g} '
      f'{r["method"]:<14} {r["draws"]:>6} {r["seconds"]:>8.3f} '
      f'{r["memory_mb"]:>8.0f} {r["gevals"]:>8.3f} {r["estimate"]:>9.4f} '
      f'{_opt(r["diff"], "9.2e"):>9} {_opt(r["stderr"], ".2e"):>8} '
      f'{_opt(r["speedup"], "7.1f", "x"):>8} '
      f'{_opt(r["vs_sklearn"], "6.1f", "x"):>7}{note}'
    )
  lines.append(
    '* on a random subset of the draws (brute force over all would take '
    'minutes); |diff| compares every method on that same subset.'
  )
  lines.append(
    '|diff|: |estimate - float64 brute force| on identical draws '
    '(nats). vs np64 / vs sk: kernel evaluations/s relative to '
    'numpy64 / sklearn.'
  )
  lines.append(
    'szt_r100_*: infoflow is the pruned path, group building '
    'included; sklearn runs on the same 16,384 draws.'
  )
  lines.append(
    'szt_layer_r1000: "entropy" is I(X;T) in nats, "draws" those '
    'of h(T); the time is h(T) + all 4096 h(T|X=x) (data '
    'generation excluded), peak MB the whole process above its '
    'baseline after imports.'
  )
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
