"""The harness's benchmark: a synthetic migration project measured against the bare SQLite floor.

``python bench/run.py --quick`` (see ``bench/README.md``).
"""
