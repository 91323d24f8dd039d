"""The core library: store, status machine, parameters, sweeps, git capture, spec types.

Nothing here imports click, rich, rq or redis.
"""
