"""On-chain IO: the marketplace's words, and its contracts' clients over web3.py. Never imports ezkl.

Read in this order:

- ``types``: the shared vocabulary, free of web3 (statuses, :class:`~.types.Job`, :class:`~.types.JobTerms`
  and the auction maths, hashes, one record per event, the dev-chain check);
- ``events``: the one place logs become those records;
- ``tx`` (with ``rpc`` and ``history``): one :class:`~.tx.Chain`: calls, sends, receipts, reverts as typed errors;
- ``contracts``, ``registry``, ``staking``, ``jobs``: the clients of each concern, joined by
  ``market.Marketplace``; ``orders``: gasless orders (EIP-712) and permits;
- ``deployment``, ``devnet``, ``signer``, ``heads``, ``simulate``, ``abi``: finding, starting and signing for a chain.
"""
