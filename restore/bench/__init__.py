"""The benchmark (``restore-bench``): restore against classical peers on fixed, seeded protocols.

:mod:`.protocol` (images, noise, masks, metrics), :mod:`.peers` (the methods), :mod:`.runner`
(running them), :mod:`.memory` (peak memory), :mod:`.reports` (tables, plots, crops),
:mod:`.quality` (the tables), :mod:`.speed` (megapixels per second on a large photo), :mod:`.cli`
(the command line).
"""
