"""adieu: a rules-as-config policy engine for parting with customers fairly.

What plugin authors import: hookimpl, SourceRecord, SourceContext,
InputError, Location, open_text, utc_date, zone_option, with_zone,
read_number, add_exact (numbers read strictly and summed exactly) and
adieu.testing for their tests."""

__version__ = "0.2.0.dev0"

from .dates import utc_date, with_zone, zone_option  # noqa: E402
from .decimals import add_exact, read_number  # noqa: E402
from .errors import AdieuError, InputError, Location  # noqa: E402
from .hookspecs import hookimpl  # noqa: E402
from .sources import SourceContext, SourceRecord, open_text  # noqa: E402

__all__ = ["AdieuError", "InputError", "Location", "SourceContext", "SourceRecord",
           "__version__", "add_exact", "hookimpl", "open_text", "read_number", "utc_date",
           "with_zone", "zone_option"]
