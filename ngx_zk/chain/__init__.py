"""On-chain IO: contract clients over web3.py. Never imports ezkl (see DESIGN.md, section 2)."""
