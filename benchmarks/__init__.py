"""`make bench`: ngx-zk measured against bare EZKL and against its own proving time.

run.py (command line, orchestration) -> pipeline.py (part a: raw EZKL vs the tuned build),
market.py (parts b-d: end-to-end latency, gas, worker throughput on a local anvil) -> report.py
(JSON, markdown table, PNG chart under benchmarks/results/).
"""
