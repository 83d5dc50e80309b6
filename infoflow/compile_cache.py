"""A persistent XLA compilation cache: programs compiled once, across processes.

Every process that runs the estimators compiles the same few XLA programs
(the Monte Carlo blocks, the mixture densities, a run's training step); on a
CPU that takes seconds per program. JAX can keep compiled programs on disk,
keyed by the program, its shapes, the backend and the JAX version, and read
them back in the next process instead of compiling again. `enable` turns that
on; the `launch` commands call it at start-up, so a resumed run or a second
identical command compiles nothing new.

Where the cache lives, first match wins:
  1. the `directory` passed to `enable` (the commands' `--compile_cache` flag);
  2. the environment variable `INFOFLOW_COMPILE_CACHE`;
  3. `$XDG_CACHE_HOME/infoflow/xla`, else `~/.cache/infoflow/xla`.
The value `off` (or `none`, `0`, the empty string) turns the cache off. The
cache may be deleted at any time; it only costs the next compile.
"""

from __future__ import annotations

import os
import pathlib
from typing import Optional
import warnings

import jax

ENV = 'INFOFLOW_COMPILE_CACHE'
OFF = ('', '0', 'off', 'none', 'false')


def default_directory() -> Optional[pathlib.Path]:
  """The cache directory `enable()` uses with no argument (None: off)."""
  value = os.environ.get(ENV)
  if value is not None:
    return resolve(value)
  base = os.environ.get('XDG_CACHE_HOME') or pathlib.Path.home() / '.cache'
  return pathlib.Path(base) / 'infoflow' / 'xla'


def resolve(value: str | os.PathLike | None) -> Optional[pathlib.Path]:
  """`value` as a cache directory: None for the default, the `OFF` words for off."""
  if value is None:
    return default_directory()
  if str(value).strip().lower() in OFF:
    return None
  return pathlib.Path(value).expanduser()


def enable(directory: str | os.PathLike | None = None) -> Optional[pathlib.Path]:
  """Turns on JAX's persistent compilation cache in `directory`.

  Every compiled program is kept, however quick its compile (the CPU
  programs of a small run each take well under JAX's default threshold of
  one second, yet together they are most of a short command's time).

  Args:
    directory: where to keep compiled programs; None for `default_directory()`
      (see the module docstring); 'off' to leave the cache off.

  Returns:
    The directory in use (created), or None when the cache is off or the
    directory cannot be created (then a warning says so, and nothing else
    changes: the cache is an optimisation, never a reason to fail).
  """
  path = resolve(directory)
  if path is None:
    return None
  try:
    path.mkdir(parents=True, exist_ok=True)
  except OSError as error:
    warnings.warn(
      f'compilation cache directory {path} cannot be created ({error.strerror or error}); '
      f'compiling without a cache. Set {ENV}=DIR to move it or {ENV}=off to silence this.',
      RuntimeWarning,
      stacklevel=2,
    )
    return None
  jax.config.update('jax_compilation_cache_dir', str(path))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
  jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)
  return path
