r"""Benchmark of the Gaussian-mixture entropy estimator.

    python -m launch.bench_entropy [--cases=dense_d3,dense_d10,dense_d64,
        szt_like,szt_r100_d5,szt_r100_d10,szt_layer_r1000] [--repeats=3]
        [--sklearn] [--szt_groups=4096]
    python -m launch.bench_entropy --cases=first_call,matmul_precision

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
--szt_groups sets m of the szt_r100 cases and of first_call (4096; fewer
for a quick check of the command: R, d and beta stay).

Two cases print their own tables (not in the default list):
  first_call  the first `infoflow.pooled_mixture_entropy` call (default
             arguments: adaptive to stderr 0.01 nats) on the szt_r100_d5
             centres, in a fresh process with an empty persistent
             compilation cache (`infoflow.compile_cache`, a temporary
             directory: cold, every program compiled and stored) and then
             in another with that cache filled (warm: programs read back,
             tracing remains). Times: the call (backend already up, data
             made) and the whole process; the target is a warm first call
             <= FIRST_CALL_TARGET seconds (issue 23). `format_first_call`.
  matmul_precision  whether TensorFloat-32 reaches the estimator: the
             per-draw values of `entropy_draw_values` on the dense_d10 case
             (the anchored expansion, a float32 matrix product, is exact
             enough there to be used) under `jax.default_matmul_precision`
             'tensorfloat32' and 'float32', each against the float64 brute
             force; and how far the device's default float32 product of the
             same points is from float64 (1e-4 to 1e-3 relative where the
             default is TF32, ~1e-7 at full float32). Target: the error
             under a TF32 default <= TF32_TARGET nats, the kernel sums'
             rounding tolerance (`dense.log_mean_kernel`); products rounded
             as TF32 would miss it (log g off by up to ~0.01 nats on these
             draws, by an emulation of its rounding in NumPy).
             `format_matmul_precision`.

The table: `format_table`.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_lib
import resource
import shutil
import tempfile
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
SZT_GROUPS = 4096  # the SZT inputs
_SZT_GROUPS = flags.DEFINE_integer(
  'szt_groups',
  SZT_GROUPS,
  'm, the groups of the szt_r100 cases and of first_call (fewer for a quick check of the command).',
)
_FRESH = flags.DEFINE_bool(
  'fresh_processes',
  True,
  'Run each method (and matmul_precision) in a fresh process, so that its peak memory is its '
  'own; --nofresh_processes runs them in this one (faster: one set of imports; peak memory '
  'then NaN). first_call always uses fresh processes.',
)

FIRST_CALL = 'first_call'
MATMUL_PRECISION = 'matmul_precision'
FIRST_CALL_TARGET = 5.0  # seconds: a warm first call (issue 23)
TF32_TARGET = 1e-3  # nats: dense.log_mean_kernel's default rounding_tolerance
TF32_DRAWS = 1024


def szt_layer(groups, replicas, dim, beta, seed=0):
  """(groups, replicas, dim) float32 SZT-like layer samples (module doc).

  `infoflow.data.synthetic.layer_samples` of kind 'separated'.
  """
  samples, _ = synthetic.layer_samples('separated', groups, replicas, dim, beta, seed=seed)
  return samples


def make_case(name: str, groups: int = SZT_GROUPS):
  """Returns (centers float32, beta, num_mc, reference_subset).

  Centres are (n, d), or grouped (groups, R, d) for the szt_r cases.
  """
  rng = np.random.default_rng(0)
  if name.startswith('szt_r100_d'):
    dim = int(name[len('szt_r100_d') :])
    # 409,600 centres at 4096 groups; brute force on 1,024 of the 16,384 draws.
    return szt_layer(groups, 100, dim, 0.005), 0.005, 16_384, 1024
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


def _worker(method, case, subset, repeats, groups):
  """Runs one method on one case (in a fresh process); returns (values,
  seconds, peak MB above the baseline after imports)."""
  # Import the method's libraries before taking the baseline.
  import jax  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import

  baseline = _rss_mb()
  if method == 'layer':
    return _run_layer(baseline)
  centers, beta, num_mc, _ = make_case(case, groups)
  owner, z = _draws(centers, num_mc)
  if subset is not None:
    owner, z = owner[subset], z[subset]
  values, seconds = _METHODS[method](centers, beta, owner, z, repeats)
  return values, seconds, max(_rss_mb() - baseline, 0.0)


def _child(fn, args, queue):
  queue.put(fn(*args))


def in_fresh_process(fn, *args):
  """(fn(*args), seconds) with fn run in a fresh Python process.

  The process is spawned (not forked): it imports everything anew and owns
  its devices and peak memory. The seconds run from its start to its result
  (interpreter start and imports included).

  Raises:
    RuntimeError: the process died before returning (e.g. out of memory).
  """
  ctx = mp.get_context('spawn')
  queue = ctx.Queue()
  start = time.perf_counter()
  proc = ctx.Process(target=_child, args=(fn, args, queue))
  proc.start()
  while True:
    try:
      result = queue.get(timeout=1.0)
      break
    except queue_lib.Empty:
      if not proc.is_alive():
        raise RuntimeError(
          f'{fn.__name__}{args!r}: the child process exited {proc.exitcode} without a result.'
        ) from None
  seconds = time.perf_counter() - start
  proc.join()
  return result, seconds


def _maybe_fresh(fn, *args):
  """fn(*args), in a fresh process unless --nofresh_processes."""
  return in_fresh_process(fn, *args)[0] if _FRESH.value else fn(*args)


def _measure(method, case, subset=None):
  """`_worker`'s result (in this process, with --nofresh_processes, the
  peak memory is not the method's own: NaN)."""
  result = _maybe_fresh(_worker, method, case, subset, _REPEATS.value, _SZT_GROUPS.value)
  return result if _FRESH.value or method == 'layer' else (*result[:2], float('nan'))


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
  centers, beta, num_mc, reference_subset = make_case(case, _SZT_GROUPS.value)
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


def _first_call(cache_dir, groups):
  """The first `pooled_mixture_entropy` call of this process, through the
  persistent compilation cache in `cache_dir` (run in a fresh process).

  Returns {'seconds', 'nats', 'draws', 'new_entries'}: the call's wall time
  (data made and the backend up before it), its estimate and draws, and the
  cache entries it added (0 when every program was read back).
  """
  import jax

  from infoflow import compile_cache
  from infoflow.estimators import entropy

  cache = compile_cache.enable(cache_dir)
  if cache is None:
    raise RuntimeError(f'first_call: the compilation cache could not be enabled at {cache_dir}.')
  centers, beta, _, _ = make_case('szt_r100_d5', groups)
  jax.devices()  # start the backend: not part of the call
  before = len(list(cache.iterdir()))
  start = time.perf_counter()
  estimate = entropy.pooled_mixture_entropy(jax.random.key(0), centers, beta)
  nats = float(estimate.nats)
  seconds = time.perf_counter() - start
  return dict(
    seconds=seconds,
    nats=nats,
    draws=int(estimate.num_draws),
    new_entries=len(list(cache.iterdir())) - before,
  )


def first_call_times(groups: int = SZT_GROUPS):
  """{'cold': ..., 'warm': ...}: `_first_call` in two fresh processes, the
  first with an empty cache (a temporary directory, deleted after), the
  second with the cache the first filled; each dict also has 'process'
  (seconds from the process's start to its result)."""
  cache = tempfile.mkdtemp(prefix='bench_entropy_cache_')
  try:
    out = {}
    for label in ('cold', 'warm'):
      out[label], process = in_fresh_process(_first_call, cache, groups)
      out[label]['process'] = process
    return out
  finally:
    shutil.rmtree(cache, ignore_errors=True)


def format_first_call(times, n: int) -> str:
  """The first_call table: cold and warm side by side, their ratio, the target."""
  cold, warm = times['cold'], times['warm']
  lines = [
    f'first call of pooled_mixture_entropy (szt_r100_d5 centres: n = {n}, d = 5, '
    'beta = 0.005; default arguments), each in a fresh process:',
    f'{"cache":<6} {"call s":>8} {"process s":>10} {"entropy":>9} {"draws":>6} {"new entries":>12}',
  ]
  for label, r in times.items():
    lines.append(
      f'{label:<6} {r["seconds"]:>8.3f} {r["process"]:>10.3f} {r["nats"]:>9.4f} '
      f'{r["draws"]:>6} {r["new_entries"]:>12}'
    )
  lines.append(
    f'first call: cold {cold["seconds"]:.3f} s, warm {warm["seconds"]:.3f} s, warm/cold '
    f'{warm["seconds"] / cold["seconds"]:.2f}; target: warm <= {FIRST_CALL_TARGET:g} s, '
    f'warm/target {warm["seconds"] / FIRST_CALL_TARGET:.2f}'
  )
  lines.append(
    'call s: the call alone (data made, backend started); process s: from the '
    "process's start (imports included). cold: an empty persistent compilation cache; "
    'warm: the cache the cold process filled.'
  )
  return '\n'.join(lines)


def _max_error(values, reference):
  return float(np.max(np.abs(np.asarray(values, np.float64) - reference)))


def matmul_precision_errors(num_draws: int = TF32_DRAWS):
  """What a TF32 default does (see the module docstring, matmul_precision).

  Returns {'platform', 'default', 'plain_relative', 'tensorfloat32',
  'float32', 'identical'}: the backend, `jax_default_matmul_precision`, the
  max relative error of a plain float32 product y c^T (the device default),
  the max |error| (nats) of the per-draw values under each default, and
  whether the two sets of values are bit-identical.
  """
  import jax
  import jax.numpy as jnp

  from infoflow.estimators._src import draws

  centers, beta, _, _ = make_case('dense_d10')
  owner, z = _draws(centers, num_draws)
  reference, _ = _run_numpy(centers, beta, owner, z, 1)
  values = {}
  for precision in ('tensorfloat32', 'float32'):
    with jax.default_matmul_precision(precision):
      fn = jax.jit(draws.entropy_draw_values)
      values[precision] = np.asarray(fn(jnp.asarray(centers), beta, owner, z))
  queries = centers[owner] + beta * z
  exact = queries.astype(np.float64) @ centers.astype(np.float64).T
  plain = np.asarray(jnp.asarray(queries) @ jnp.asarray(centers).T, np.float64)
  return dict(
    platform=jax.default_backend(),
    default=str(jax.config.jax_default_matmul_precision),
    plain_relative=float(np.max(np.abs(plain - exact)) / np.max(np.abs(exact))),
    tensorfloat32=_max_error(values['tensorfloat32'], reference),
    float32=_max_error(values['float32'], reference),
    identical=bool(np.array_equal(values['tensorfloat32'], values['float32'])),
  )


def format_matmul_precision(r, num_draws: int = TF32_DRAWS) -> str:
  """The matmul_precision lines: the device default, the errors, the target."""
  return '\n'.join(
    [
      f'matmul precision on {r["platform"]} (dense_d10 centres: n = 16384, d = 10, beta = 1; '
      f'{num_draws} draws):',
      f'  jax_default_matmul_precision = {r["default"]}; a plain float32 product y c^T: max '
      f'relative error {r["plain_relative"]:.1e} (TF32 1e-4 to 1e-3, full float32 ~1e-7)',
      f'  per-draw values vs float64: max |error| {r["float32"]:.2e} nats under a float32 '
      f'default, {r["tensorfloat32"]:.2e} under a tensorfloat32 default '
      f'(bit-identical: {"yes" if r["identical"] else "no"})',
      f'tf32: max |error| under a TF32 default {r["tensorfloat32"]:.2e} nats; target: <= '
      f'{TF32_TARGET:g} nats, error/target {r["tensorfloat32"] / TF32_TARGET:.2g}',
    ]
  )


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
    if case == FIRST_CALL:
      times = first_call_times(_SZT_GROUPS.value)
      print(format_first_call(times, _SZT_GROUPS.value * 100), flush=True)
    elif case == MATMUL_PRECISION:
      print(format_matmul_precision(_maybe_fresh(matmul_precision_errors)), flush=True)
    else:
      rows.extend(run_case(case))
  if rows:
    print(format_table(rows))


if __name__ == '__main__':
  app.run(main)
