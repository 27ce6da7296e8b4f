"""Notifications: the review outbox delivered by e-mail, to the in-app inbox and to signed webhooks."""
