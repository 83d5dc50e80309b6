"""The paper's experiments and the reproduction report.

    from infoflow import paper
    path = paper.reproduce(['minimal_tanh'], 'runs/paper')   # runs/paper/report.md

`EXPERIMENTS` (registry.py) holds every experiment: its configs, default
seeds, one line about it and its report section; adding one is an entry
there and its config. `reproduce` (experiments.py) runs what the experiments
need and writes the report (report.py: findings from findings.py, sections
from sections.py and examples.py). docs/reproduce.md describes the report.
"""

from infoflow.paper.experiments import RunOutcome
from infoflow.paper.experiments import reproduce
from infoflow.paper.registry import EXPERIMENTS
from infoflow.paper.registry import SEEDS_NOTE
from infoflow.paper.registry import Experiment
from infoflow.paper.registry import ExperimentError
