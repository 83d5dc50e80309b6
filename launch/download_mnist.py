r"""Downloads the four MNIST IDX archives and verifies their checksums.

Usage:
  python -m launch.download_mnist [--data_dir=DIR]     (installed: infoflow-download-mnist)

``--data_dir`` defaults to ``infoflow.data.default_data_dir() / "mnist"``
(``$INFOFLOW_DATA_DIR/mnist``, else ``~/.cache/infoflow/mnist``), where
``infoflow.data.load_mnist()`` looks by default. Sources, in order: the CVDF
mirror used by TensorFlow and the PyTorch (ossci) mirror.

Checksums. Each file is verified by the SHA-256 of its *uncompressed* IDX
content, pinned in ``CONTENT_SHA256`` (computed from a local copy of the
standard files; the same pins are published widely for MNIST). The content, not
the archive, is pinned because gzip output depends on the compressor: a
recompressed copy of the standard files (such as one made with a different
gzip level) holds the same data but a different archive hash, and must be
accepted, while any change to the data must not. For reference the mirrors'
archives hash to ``ARCHIVE_SHA256``.

Files are written atomically (temporary file in the target directory, verified,
then renamed); files already present (raw or .gz) whose content verifies are
skipped. Never run by tests (they have no network).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
import tempfile
import urllib.request

from absl import app
from absl import flags

from infoflow.data import default_data_dir

_DATA_DIR = flags.DEFINE_string(
  'data_dir', None, 'Where to put the files (default: infoflow.data.default_data_dir()/mnist).'
)
MIRRORS = (
  'https://storage.googleapis.com/cvdf-datasets/mnist/',
  'https://ossci-datasets.s3.amazonaws.com/mnist/',
)
# SHA-256 of the uncompressed IDX files (what load_mnist reads).
CONTENT_SHA256 = {
  'train-images-idx3-ubyte': 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
  'train-labels-idx1-ubyte': '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
  't10k-images-idx3-ubyte': '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
  't10k-labels-idx1-ubyte': 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
}
# SHA-256 of the mirrors' .gz archives (informational; see the module docstring).
ARCHIVE_SHA256 = {
  'train-images-idx3-ubyte': '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
  'train-labels-idx1-ubyte': '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
  't10k-images-idx3-ubyte': '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
  't10k-labels-idx1-ubyte': 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
}
_CHUNK = 1 << 20


def content_sha256(path: str | Path) -> str:
  """Hex SHA-256 of a file's content, decompressed first if its name ends in ``.gz``.

  Raises:
    OSError / EOFError: unreadable file or corrupt gzip stream.
  """
  path = Path(path)
  digest = hashlib.sha256()
  opener = gzip.open if path.suffix == '.gz' else open
  with opener(path, 'rb') as f:
    while chunk := f.read(_CHUNK):
      digest.update(chunk)
  return digest.hexdigest()


def verify_file(path: str | Path, expected_sha256: str) -> bool:
  """Whether ``path`` (raw or ``.gz``) holds content with SHA-256 ``expected_sha256``.

  Missing, unreadable or corrupt files give False (they are to be fetched again).
  """
  try:
    return content_sha256(path) == expected_sha256.lower()
  except (OSError, EOFError):  # gzip.BadGzipFile is an OSError.
    return False


def _fetch(name: str, target: Path, timeout_s: float = 60.0) -> str:
  """Downloads ``name``.gz into ``target`` atomically; returns the URL used."""
  errors = []
  for mirror in MIRRORS:
    url = f'{mirror}{name}.gz'
    fd, tmp = tempfile.mkstemp(prefix=f'.{name}.', suffix='.gz.part', dir=target.parent)
    try:
      with os.fdopen(fd, 'wb') as out, urllib.request.urlopen(url, timeout=timeout_s) as resp:
        while chunk := resp.read(_CHUNK):
          out.write(chunk)
      if not verify_file(tmp, CONTENT_SHA256[name]):
        raise ValueError('checksum mismatch')
      os.replace(tmp, target)  # Atomic within one filesystem.
      return url
    except Exception as e:  # Try the next mirror; report all failures at the end.
      errors.append(f'{url}: {e}')
    finally:
      if os.path.exists(tmp):
        os.remove(tmp)
  raise RuntimeError(f'Could not fetch {name}.gz:\n  ' + '\n  '.join(errors))


def download(data_dir: str | Path) -> list[str]:
  """Ensures the four verified MNIST files are in ``data_dir``; returns what was done."""
  data_dir = Path(data_dir)
  data_dir.mkdir(parents=True, exist_ok=True)
  done = []
  for name, sha in CONTENT_SHA256.items():
    good = None
    for p in (data_dir / name, data_dir / f'{name}.gz'):
      if not p.is_file():
        continue
      if verify_file(p, sha):
        good = good or p
        continue
      # Move bad files aside (not delete: they are the user's): load_mnist prefers
      # the raw file, so a bad one would shadow a good .gz.
      aside = p.with_name(p.name + '.corrupt')
      os.replace(p, aside)
      done.append(f'{p} has a wrong checksum; moved to {aside}')
    if good is not None:
      done.append(f'kept {good} (checksum ok)')
      continue
    url = _fetch(name, data_dir / f'{name}.gz')
    done.append(f'fetched {url} -> {data_dir / (name + ".gz")} (checksum ok)')
  return done


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  data_dir = Path(_DATA_DIR.value) if _DATA_DIR.value else default_data_dir() / 'mnist'
  for line in download(data_dir):
    print(line)
  print(f'MNIST ready in {data_dir}')


def run():
  """The command (`python -m launch.download_mnist`, installed as
  `infoflow-download-mnist`)."""
  app.run(main)


if __name__ == '__main__':
  run()
