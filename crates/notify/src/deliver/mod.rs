//! Delivery: the journal and the transports (outbox, SMTP).
