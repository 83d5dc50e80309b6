"""Tests of the experiment set-up (infoflow.setup.setup): analysed
epochs, the evaluation set of each split."""

import numpy as np
import pytest

from infoflow import configs
from infoflow import data as data_lib
from infoflow.experiment import setup


def test_analysis_epochs_are_log_spaced():
  epochs = setup.analysis_epochs(10_000, 90)
  assert epochs[0] == 0 and epochs[-1] == 10_000
  assert 80 <= len(epochs) <= 91
  assert epochs == sorted(set(epochs))
  ratios = np.diff(np.log(np.array(epochs[20:], float)))
  assert ratios.max() < 3 * ratios.min()


@pytest.mark.parametrize('which', ['all', 'train', 'test'])
def test_evaluation_set_of_each_split(which):
  """SZT: the split's inputs in x_all order, or a fixed subset of them."""
  config = configs.get_config('tiny')
  config.analysis.inputs, config.analysis.num_eval_inputs = which, 0
  dataset = setup.read_dataset(config)
  x, y, indices = setup.evaluation_set(config, dataset)
  expected = {
    'all': np.arange(len(dataset.x_all)),
    'train': np.sort(dataset.index_train),
    'test': np.sort(dataset.index_test),
  }[which]
  assert indices == expected.tolist()
  assert (
    len(x)
    == len(y)
    == {'all': 4096, 'train': len(dataset.x_train), 'test': len(dataset.x_test)}[which]
  )
  np.testing.assert_array_equal(x, dataset.x_all[indices])
  np.testing.assert_array_equal(y, dataset.y_all[indices])
  config.analysis.num_eval_inputs = 100
  x, _, some = setup.evaluation_set(config, dataset)
  assert len(x) == 100 and set(some) <= set(indices) and some == sorted(some)
  assert setup.evaluation_set(config, dataset)[2] == some


def _files_dataset(num_test=5):
  """A data set without input positions (as MNIST): 8 train, `num_test`."""
  rng = np.random.default_rng(0)
  return data_lib.Dataset(
    name='files',
    x_train=rng.normal(size=(8, 3)),
    y_train=np.arange(8) % 2,
    x_test=rng.normal(size=(num_test, 3)),
    y_test=np.arange(num_test) % 2,
    num_classes=2,
    source='test',
  )


def test_evaluation_set_of_a_data_set_of_files():
  """MNIST's rule: the first inputs of a split; 'all' a fixed random subset
  of train then test; an empty split is a config error."""
  config, dataset = configs.get_config('mnist'), _files_dataset()
  assert config.analysis.inputs == 'test'  # the paper's: first test images
  config.analysis.num_eval_inputs = 3
  x, _, indices = setup.evaluation_set(config, dataset)
  assert indices == [0, 1, 2]
  np.testing.assert_array_equal(x, dataset.x_test[:3])
  config.analysis.inputs = 'train'
  x, _, indices = setup.evaluation_set(config, dataset)
  np.testing.assert_array_equal(x, dataset.x_train[:3])
  config.analysis.inputs, config.analysis.num_eval_inputs = 'all', 6
  x, _, indices = setup.evaluation_set(config, dataset)
  np.testing.assert_array_equal(x, dataset.x_all[indices])
  assert len(set(indices)) == 6 and max(indices) < 13
  config.analysis.inputs = 'test'
  with pytest.raises(configs.ConfigError, match='analysis.inputs'):
    setup.evaluation_set(config, _files_dataset(num_test=0))


@pytest.mark.parametrize('count', [1, 2])
def test_too_few_inputs_for_the_clustering_measures_is_a_config_error(count):
  """Issue 22, also seen: num_eval_inputs = 1 or 2 trained the whole run,
  then failed in clustering ('no within-class pairs'). Now a one-line
  error before training; without clustering the inputs are accepted."""
  config, dataset = configs.get_config('mnist'), _files_dataset()
  config.analysis.num_eval_inputs = count  # test labels 0, 1, 0, ...
  with pytest.raises(configs.ConfigError, match=r'analysis\.num_eval_inputs = .*clustering=False'):
    setup.evaluation_set(config, dataset)
  config.analysis.clustering = False
  assert len(setup.evaluation_set(config, dataset)[0]) == count
