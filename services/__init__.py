"""LeadRelay's three services; each talks to the others only through Kafka."""
