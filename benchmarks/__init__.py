"""DataFlow benchmarks: every workload next to the raw driver doing the same SQL work.

Run ``python -m benchmarks`` (see ``benchmarks/README.md``). This package imports nothing heavy at
import time, so the cold-start child processes it spawns measure ``import dataflow`` alone.
"""
