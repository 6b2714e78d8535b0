"""fwdrev's benchmark harness: measure forward- versus reverse-mode AD.

Layout (one concern per module):

- ``bench.problems``  -- the functions to differentiate (one module each, plain NumPy);
- ``bench.engines``   -- the engine adapters (forward, reverse, fd; later peers);
- ``bench.timing``    -- adaptive-repeat wall-clock timing;
- ``bench.memory``    -- peak-memory measurement in a fresh subprocess;
- ``bench.records``   -- the JSON Lines results format (header, records, resume);
- ``bench.sweep``     -- runs a grid of (problem, engine, sizes) into records;
- ``bench.suites``    -- named grids (``default``, ``smoke``);
- ``bench.analysis``  -- slopes, ratios and crossovers derived from records;
- ``bench.plots``     -- matplotlib PNGs;
- ``bench.report``    -- the Markdown report;
- ``bench.cli``       -- the ``fwdrev`` command.
"""

#: Version tag written in every results file's header.  Bump it whenever a record
#: field changes meaning; readers refuse files whose tag differs.
FORMAT_VERSION = "fwdrev-bench/1"
