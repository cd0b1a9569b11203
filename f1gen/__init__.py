"""f1gen: turn a storyboard into a finished talking-character video with Ovi."""

__version__ = "0.1.0"
