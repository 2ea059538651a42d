"""LeadRelay's benchmark suite (issue #8): every figure beside a baseline measured in the
same run, on loopback, bounded in count and time. `make bench` runs it; `python -m bench -h`."""
