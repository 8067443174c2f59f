"""Reporting's use cases: the depth, cross-region and progress queries, the progress export, the
read-model rebuild and the recording of partner reports."""
