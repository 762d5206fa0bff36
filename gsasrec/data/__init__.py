"""Data: readers, the interaction container, leave-one-out split, synthetic data with truth."""

from gsasrec.data.interactions import Interactions, Sequences
from gsasrec.data.registry import DATASETS, data_dir, load_dataset
from gsasrec.data.split import LeaveOneOutSplit, leave_one_out
from gsasrec.data.synthetic import MarkovChainGenerator, SyntheticConfig

__all__ = [
    "DATASETS",
    "Interactions",
    "LeaveOneOutSplit",
    "MarkovChainGenerator",
    "Sequences",
    "SyntheticConfig",
    "data_dir",
    "leave_one_out",
    "load_dataset",
]
