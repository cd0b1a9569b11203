"""Helpers shared by the test suite and the benchmarks: stand-ins, media makers, scripted backends."""
