"""Scoring: metrics on pooled predictions, and the sweep report."""
