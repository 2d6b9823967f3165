"""Subscribers: signup, double opt-in, unsubscribe, suppression, pause/resume and privacy."""
