"""The integration core (app label `core`): channels and credentials, legal entities,
the inbound message store, domain events and their outbox, correlation ids, the
exception queue, audit, replay and the trace. It imports no domain app."""
