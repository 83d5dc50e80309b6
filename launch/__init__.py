"""The commands: each main turns flags into a config and makes one library call.

    python -m launch.train | plot | estimate | reproduce | download_mnist
    python -m launch.bench_run | bench_train | bench_entropy | bench_information

From a clone the folder is the package `launch`; installed, it is the
package `infoflow_launch` (setup.cfg), whose mains are the console scripts
infoflow-train, infoflow-plot, infoflow-estimate, infoflow-reproduce and
infoflow-download-mnist. Mains import each other relatively, so they work
under either name; the library (`infoflow`) never imports them.
"""
