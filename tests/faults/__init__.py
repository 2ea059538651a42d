"""Fault injection (issue #7): the whole stack as processes, then broker, process and database
faults, each followed by the same audit of what reached every database and topic."""
