"""Nurture tracking package."""
