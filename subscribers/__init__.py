"""Nurture subscribers package."""
