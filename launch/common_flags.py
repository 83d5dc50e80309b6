"""Flags shared by the launchers (defined once, so they can be imported together)."""

from absl import flags

WORKDIR = flags.DEFINE_string(
    'workdir', None,
    'Run directory: where launch.train writes its record and launch.plot reads '
    'it (launch.train default: runs/<config name>).')
