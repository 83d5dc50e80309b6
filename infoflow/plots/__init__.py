"""Figures of a training run, read from its run record (docs/run_record.md).

    from infoflow import plots
    from infoflow import record
    run = record.load_run('runs/szt')
    fig = plots.plot_information_curves(run)    # a matplotlib Figure
    fig.savefig('information.png')

Every ``plot_*`` function is pure: it takes a run (`infoflow.record.Run`; or, for the
curves, a list of metric records; for the representation figures, a mapping
``{epoch: arrays}``) and returns a new :class:`matplotlib.figure.Figure`
without touching pyplot's global state, so it works under any backend. A
figure whose inputs are absent from the run raises :class:`NothingToPlot`
(a ValueError) saying what is missing; ``python -m launch.plot`` writes every
figure that applies and skips the others.
"""

from infoflow.plots.animation import write_animations
from infoflow.plots.animation import write_information_plane_animation
from infoflow.plots.animation import write_scatter_animation
from infoflow.plots.common import NothingToPlot
from infoflow.plots.common import OutputError
from infoflow.plots.common import Reference
from infoflow.plots.curves import plot_binned_entropy_curves
from infoflow.plots.curves import plot_clustering_curves
from infoflow.plots.curves import plot_information_curves
from infoflow.plots.curves import plot_training_curves
from infoflow.plots.plane import information_plane_series
from infoflow.plots.plane import plot_information_plane
from infoflow.plots.plane import plot_information_plane_panels
from infoflow.plots.representations import UnknownLayerError
from infoflow.plots.representations import pick_epochs
from infoflow.plots.representations import pick_layer
from infoflow.plots.representations import plot_cosine_similarity_matrices
from infoflow.plots.representations import plot_scatter_layers
from infoflow.plots.representations import stratified_subsample
