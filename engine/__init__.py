"""adieu: a rules-as-config policy engine for parting with customers fairly."""

__version__ = "0.1.0"
