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
from infoflow.configs.base import seed_problem
from infoflow.configs.base import validate

_HERE = pathlib.Path(__file__).resolve().parent
_NOT_CONFIGS = {'__init__', 'base'}


def available() -> list[str]:
  """Names of the configs in this folder."""
  return sorted(p.stem for p in _HERE.glob('*.py') if p.stem not in _NOT_CONFIGS)


def get_config(name: str):
  """The ConfigDict of config `name`; a clear error lists the known ones."""
  if name not in available():
    path = '/' in name or name.endswith('.py')
    raise ValueError(
      f'unknown config {name!r}{" (a config name, not a file path)" if path else ""}; '
      f'available: {", ".join(available())}.'
    )
  return importlib.import_module(f'infoflow.configs.{name}').get_config()


def _unknown_field(config, name: str, path: str) -> str:
  """Why `--config.PATH` names no field of config `name`, with the fields and
  groups that exist where the path goes wrong; '' when it names one."""
  parent, group, where = None, config, ''
  for part in path.split('.'):
    if not hasattr(group, 'items'):  # a field where the path needs a group
      problem = f'{where} is a field, not a group'
      group, where = parent, where.rpartition('.')[0]
      break
    if part not in group:
      problem = f'no field or group {part!r}{" in " + where if where else ""}'
      break
    parent, group, where = group, group[part], f'{where}.{part}' if where else part
  else:
    return ''
  of = f' of {where}' if where else ''
  fields = [k for k, v in group.items() if not hasattr(v, 'items')]
  groups = [k for k, v in group.items() if hasattr(v, 'items')]
  listed = [f'fields{of}: {", ".join(fields)}'] if fields else []
  listed += [f'groups{of}: {", ".join(groups)}'] if groups else []
  return f'unknown config field {path!r} in config {name!r}: {problem}; {"; ".join(listed)}.'


def resolve_argv(argv: list[str]) -> list[str]:
  """Rewrites `--config=NAME` to the config's file and checks overrides.

  ml_collections' config flag takes a file path; this lets users name the
  config instead, and turns an unknown name (a path, or an empty one,
  included) or field into an error that lists what exists (instead of a
  traceback).

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
    if arg.startswith('--config='):
      name = arg.partition('=')[2]
      get_config(name)  # raises with the list of names
      arg = f'--config={_HERE / (name + ".py")}'
    out.append(arg)
  if name is not None:
    config = get_config(name)
    for arg in argv:
      match = re.fullmatch(r'--config\.([^=]+)(=.*)?', arg)
      problem = match and _unknown_field(config, name, match.group(1))
      if problem:
        raise ValueError(problem)
  return out
