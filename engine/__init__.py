"""adieu: a rules-as-config policy engine for parting with customers fairly.

What plugin authors import: hookimpl, SourceRecord, SourceContext,
InputError, Location, open_text, utc_date, zone_option, with_zone (and
adieu.testing for their tests)."""

__version__ = "0.2.0.dev0"

from .dates import utc_date, with_zone, zone_option  # noqa: E402
from .errors import AdieuError, InputError, Location  # noqa: E402
from .hookspecs import hookimpl  # noqa: E402
from .sources import SourceContext, SourceRecord, open_text  # noqa: E402

__all__ = ["AdieuError", "InputError", "Location", "SourceContext", "SourceRecord",
           "__version__", "hookimpl", "open_text", "utc_date", "with_zone", "zone_option"]
