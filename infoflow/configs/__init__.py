"""Named experiment configs: `--config=NAME` picks `infoflow/configs/NAME.py`.

Each config module has `get_config() -> ml_collections.ConfigDict`. Fields are
overridden on the command line as ml_collections does:
`--config.optimizer.learning_rate=1e-3`. `validate(config)` checks every
field (launch.train calls it before touching data or disk).
"""

from __future__ import annotations

import importlib
import pathlib
import re

from infoflow.configs.base import ConfigError
from infoflow.configs.base import information_settings
from infoflow.configs.base import validate

_HERE = pathlib.Path(__file__).resolve().parent
_NOT_CONFIGS = {'__init__', 'base'}


def available() -> list[str]:
  """Names of the configs in this folder."""
  return sorted(p.stem for p in _HERE.glob('*.py') if p.stem not in _NOT_CONFIGS)


def get_config(name: str):
  """The ConfigDict of config `name`; a clear error lists the known ones."""
  if name not in available():
    raise ValueError(f'unknown config {name!r}; available: {", ".join(available())}.')
  return importlib.import_module(f'infoflow.configs.{name}').get_config()


def _field_names(config, prefix=''):
  names = []
  for key, value in config.items():
    path = f'{prefix}{key}'
    names.append(path)
    if hasattr(value, 'items'):
      names.extend(_field_names(value, path + '.'))
  return names


def resolve_argv(argv: list[str]) -> list[str]:
  """Rewrites `--config=NAME` to the config's file and checks overrides.

  ml_collections' config flag takes a file path; this lets users name the
  config instead, and turns an unknown name or field into an error that
  lists what exists (instead of a traceback).

  Raises:
    ValueError: unknown config name or override field.
  """
  # `--config NAME` (absl also accepts a space) becomes `--config=NAME`.
  joined = []
  for arg in argv:
    if joined and joined[-1] == '--config' and not arg.startswith('-'):
      joined[-1] = f'--config={arg}'
    else:
      joined.append(arg)
  argv = joined
  out = []
  name = None
  for arg in argv:
    match = re.fullmatch(r'--config=([A-Za-z0-9_]+)', arg)
    if match:
      name = match.group(1)
      get_config(name)  # raises with the list of names
      arg = f'--config={_HERE / (name + ".py")}'
    out.append(arg)
  if name is not None:
    fields = _field_names(get_config(name))
    for arg in argv:
      match = re.fullmatch(r'--config\.([A-Za-z0-9_.]+)(=.*)?', arg)
      if match and match.group(1) not in fields:
        parent = match.group(1).rpartition('.')[0]
        siblings = [f for f in fields if f.rpartition('.')[0] == parent]
        raise ValueError(
          f'unknown config field {match.group(1)!r} in config {name!r}; '
          f'fields{" of " + parent if parent else ""}: '
          f'{", ".join(siblings)}.'
        )
  return out
