"""What all three services need: settings, events, database, Kafka, outbox/inbox, metrics."""
