"""mer: facial micro-expression recognition from onset→apex optical flow."""

__version__ = "0.1.0"
