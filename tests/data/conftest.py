"""The data tests never read the user's data: every default points somewhere empty."""

import pytest

from infoflow import data


@pytest.fixture(autouse=True)
def _isolated_data_dir(monkeypatch, tmp_path):
  """No test may read the user's real cache: point every default somewhere empty."""
  monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg-cache'))
