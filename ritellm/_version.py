"""The package version (a leaf: imported by modules that must not import ritellm/__init__)."""

__version__ = "0.1.0"
