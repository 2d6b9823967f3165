"""Nurture migrations package."""
