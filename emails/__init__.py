"""Nurture emails package."""
