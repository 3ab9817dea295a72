"""Every write of the journals, one transaction each:
- `apply`: postings into summarized draft entries (the one path from source events);
- `run`: the period's run over what is not journaled yet;
- `lifecycle`: approve, post, reverse; `delivery`: one attempt to reach the ERP;
- `periods`: close, reopen, lock; `mapping`, `policies`: what the postings are read against.
"""
