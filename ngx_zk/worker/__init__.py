"""The provider's worker: watch, claim, prove, submit; journaled so a crash never loses or repeats work.

Read in this order:

- ``options.py``: :class:`WorkerOptions`, what a provider chooses (the CLI builds it from its flags).
- ``worker.py``: :class:`Worker` assembles the rooms below and runs the loop (rq's ``work(burst, max_jobs)``).
- ``monitor.py``: what is new on chain: jobs posted and reopened, overdue claims; cursors and a reorg window.
- ``journal.py``: every step written before it is taken; the checked transition table.
- ``lifecycle.py``: one job's steps, a handler per journaled step (SEEN and CLAIMING here), the step table.
- ``eligibility.py``: would I take this job? One answer for posted jobs and gasless orders (``policy.py``: the terms).
- ``standing.py``: what the chain says of my job (still the one seen? still mine? what a revert means).
- ``proving.py``: a claimed job's input, proof and submission; ``endings.py``: declines and final steps.
- ``crew.py``: what the lifecycle's rooms share; ``market_view.py``: the chain as they use it (a Protocol).
- ``offers.py`` and ``orders.py``: inputs offered before a job is posted, and gasless orders filled.
- ``jobfiles.py``: the served models and the stranger's inputs opened; ``provers.py``/``ray_pool.py``: proofs.
- ``observe.py``: JSON-lines logs and Prometheus metrics.
"""

from .journal import Journal, Step
from .options import WorkerOptions
from .worker import Worker

__all__ = ["Journal", "Step", "Worker", "WorkerOptions"]
