"""adieu's built-in data sources, registered through the "adieu" entry-point
group exactly like third-party plugins."""
