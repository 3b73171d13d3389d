"""Watching and isolating what an engine's process does: the one place for strace and fork.

- ``strace``: whether strace may trace here (probed once) and the one argv builder for
  every traced run (counting, fault injection, attaching to a child, power-loss recording).
- ``trace``: the one reader of strace output: lines into ``Syscall`` records, in the order
  they started and the order they completed.
- ``fork``: the one fork-and-report runner: a callable run in a forked child with a
  timeout, reported as its result, exception, crash signal, exit status or hang.
- ``fileops``, ``recording``, ``durability``: power loss. What a traced run did to the
  files of its data directory, and the images a power cut at each sync point leaves.
"""
