"""Time tart-2's data path (`sample_set_batch`: prior + input map) at the training-path issue's
shapes, for whichever tart is on PYTHONPATH, so an old checkout can be timed against this one:

    PYTHONPATH=/path/to/checkout-of-2c355c9/src python scripts/time_data_path.py   # the start
    PYTHONPATH=src python scripts/time_data_path.py exact                          # now, exact basis
    PYTHONPATH=src python scripts/time_data_path.py fast                           # now, fast basis
"""

import sys
import time

import torch

from tart.priors_tart2 import MixturePrior, SetCurriculum, sample_set_batch

torch.set_num_threads(2)
prior, curriculum = MixturePrior(), SetCurriculum(tokens=49152, large_frac=0.5)
options = {"basis": sys.argv[1]} if len(sys.argv) > 1 else {}  # the start had no basis argument
for shape in [(64, 128, 64), (64, 512, 320), (128, 256, 320)]:
    seconds = []
    for rep in range(3):  # the first is a warm-up
        g = torch.Generator().manual_seed(rep)
        t0 = time.perf_counter()
        sample_set_batch(prior, curriculum, 64, shape[0], g, shape=shape, **options)
        seconds.append(time.perf_counter() - t0)
    print(shape, f"{min(seconds[1:]):.3f}")
