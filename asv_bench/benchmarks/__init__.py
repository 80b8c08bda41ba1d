"""asv benchmarks of pynla, one file per capability; inputs come from pynla.bench.matrices."""
