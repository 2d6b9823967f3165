"""Email rendering, the message model, signed link tokens and the delivery backends."""
