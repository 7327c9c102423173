//! Notices: events grouped per contact and period, rendered as mail.
