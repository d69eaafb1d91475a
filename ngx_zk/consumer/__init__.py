"""The consumer's side of a job: commit, post with escrow, deliver the input, get a verified output.

The salted input is the consumer's secret: it is kept in a private job record
(``$NGX_ZK_HOME/state/jobs/<chain>/<job>.json``, mode 0600) and leaves the machine only encrypted
to the provider that claimed the job (X25519 key from its on-chain registration, bound to the job).

Read in this order: :mod:`.records` (the job record kept on disk, the result handed back), :mod:`.view`
(the few market calls the wait makes, as a Protocol an in-memory fake implements), :mod:`.delivery`
(the input sealed to the provider, through its endpoint or on chain; the output checked), :mod:`.steps`
(the wait for settlement as a step table: status -> what the consumer does), :mod:`.standing` (a gasless
consumer's order nonces and standing permit, file-locked), :mod:`.account` (the
:class:`Consumer`: settings, market and signer held once; post, order, adopt, wait).
:class:`ngx_zk.Client` is the public face over these; ``ngx-zk prove-job`` and ``job`` are its CLI skin.
"""

from __future__ import annotations

from .account import ORDER_TTL_S, POLL_S, Consumer, adopt_as_deliverer, order_job, post_job, wait_for_result
from .delivery import MAX_ONCHAIN_PAYLOAD, deliver_input, fetch_private_output, offer, open_output, verify_settled
from .records import JobRecord, JobResult, load_record, record_path, require_private, save_record
from .steps import OFFER_RESEND_S, STEPS, Ended, Follow, Next, Step

__all__ = [
    "MAX_ONCHAIN_PAYLOAD",
    "OFFER_RESEND_S",
    "ORDER_TTL_S",
    "POLL_S",
    "STEPS",
    "Consumer",
    "Ended",
    "Follow",
    "JobRecord",
    "JobResult",
    "Next",
    "Step",
    "adopt_as_deliverer",
    "deliver_input",
    "fetch_private_output",
    "load_record",
    "offer",
    "open_output",
    "order_job",
    "post_job",
    "record_path",
    "require_private",
    "save_record",
    "verify_settled",
    "wait_for_result",
]
