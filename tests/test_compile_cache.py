"""The persistent compilation cache: where it lives, how it is turned off,
and that a second process compiles nothing new."""

import pathlib
import subprocess
import sys

import pytest

from infoflow import compile_cache

_CHILD = """
import sys
import jax
import numpy as np
from infoflow import compile_cache
print(compile_cache.enable(sys.argv[1]))
import infoflow
x = np.random.default_rng(0).normal(size=(64, 1, 3)).astype('float32')
print(infoflow.pooled_mixture_entropy(jax.random.key(0), x, beta=0.5, num_mc=256).nats)
"""


def test_default_directory_follows_env_then_xdg(monkeypatch, tmp_path):
  monkeypatch.delenv(compile_cache.ENV, raising=False)
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
  assert compile_cache.default_directory() == tmp_path / 'infoflow' / 'xla'
  monkeypatch.setenv(compile_cache.ENV, str(tmp_path / 'elsewhere'))
  assert compile_cache.default_directory() == tmp_path / 'elsewhere'
  monkeypatch.setenv(compile_cache.ENV, 'off')
  assert compile_cache.default_directory() is None


@pytest.mark.parametrize('word', ['off', 'OFF', 'none', '0', ''])
def test_off_words_turn_it_off(word):
  assert compile_cache.resolve(word) is None
  assert compile_cache.enable(word) is None


def test_an_uncreatable_directory_warns_and_leaves_the_cache_alone(tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('')
  with pytest.warns(RuntimeWarning, match='cannot be created'):
    assert compile_cache.enable(blocker / 'cache') is None


def test_a_second_process_compiles_nothing_new(tmp_path):
  """Run the same estimate in two fresh processes: the first fills the cache,
  the second reads every program back (no new entry) and gives the same value."""
  cache = tmp_path / 'xla'

  def child():
    out = subprocess.run(
      [sys.executable, '-c', _CHILD, str(cache)], capture_output=True, text=True, check=True
    )
    return out.stdout.split()

  first = child()
  entries = sorted(p.name for p in pathlib.Path(cache).iterdir())
  second = child()
  assert first[0] == str(cache) and entries
  assert sorted(p.name for p in cache.iterdir()) == entries
  assert second == first
