"""Nurture course package."""
