"""Delivery: enrollments and deliveries, their schedule, the dispatcher and the sender.

Every change of an enrollment or delivery row is a guarded statement in `transitions` or
`enrollments`; subscribers/, tracking/ and cli/ change delivery state only by calling them.
"""
