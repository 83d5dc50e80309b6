"""An experiment run: the launcher without its flags.

    from infoflow import configs
    from infoflow import experiment
    records = experiment.train_and_analyse(configs.get_config('tiny'), 'runs/tiny')

`train_and_analyse` trains a config's seeds and analyses them at the
analysed epochs, writing the run record (docs/run_record.md, read back with
`infoflow.record.load_run`); rerun on the same workdir it resumes, redoing
whatever the record lacks. One process at a time writes a workdir (its lock,
lock.py). Its steps (runner.py) are exported too, for benchmarks and tests
that build what a run builds. Metric writers besides metrics.jsonl: `Writer`, `register_writer`
(writers.py). Errors: `configs.ConfigError`, `RunDirError` (docs/errors.md).

Modules: runner (the loop), trainer (data, model, training), setup (config
to data set, model, analysis plan), workdir (the run directory, its
checkpoints, and what a resumed run redoes), lock (the workdir lock), writers
(metric writers), progress (progress lines).
"""

from infoflow.experiment.runner import analyse_epoch
from infoflow.experiment.runner import open_workdir
from infoflow.experiment.runner import plan_run
from infoflow.experiment.runner import record_epoch
from infoflow.experiment.runner import resume_or_start
from infoflow.experiment.runner import save_checkpoint
from infoflow.experiment.runner import train_and_analyse
from infoflow.experiment.runner import write_record
from infoflow.experiment.trainer import Data
from infoflow.experiment.trainer import Trainer
from infoflow.experiment.trainer import build_trainer
from infoflow.experiment.trainer import evaluate
from infoflow.experiment.trainer import load_data
from infoflow.experiment.trainer import train_until
from infoflow.experiment.workdir import RunDirError
from infoflow.experiment.writers import MetricWriter
from infoflow.experiment.writers import Writer
from infoflow.experiment.writers import register as register_writer
from infoflow.experiment.writers import unregister as unregister_writer
