"""The one place the version lives; the build reads it from here."""

__version__ = "0.7.0.dev0"
