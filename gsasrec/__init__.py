"""gsasrec: sequential recommenders trained with negative sampling, with calibrated probabilities.

The package reproduces gSASRec (Petrov & Macdonald, RecSys 2023): SASRec trained with
more negatives and the generalised binary cross-entropy (gBCE), whose calibration
parameter t removes the overconfidence that negative sampling causes.
"""

import time

PROCESS_START = time.time()  # taken before torch loads: wall times count from process start

from gsasrec.config import PRESETS, TrainConfig  # noqa: E402
from gsasrec.errors import GsasrecError  # noqa: E402

__all__ = ["PRESETS", "PROCESS_START", "GsasrecError", "TrainConfig", "__version__"]
__version__ = "0.1.0"
