"""The service for any WSGI server: `waitress-serve briefing.serve.wsgi:application`,
`gunicorn briefing.serve.wsgi:application`, …

The publication is the folder in BRIEFING_PROJECT (default: the working directory);
BRIEFING_UNSUBSCRIBE_SECRET must be the one `briefing send` uses.
"""

from __future__ import annotations

import os
from pathlib import Path

from briefing.serve.server import application_for

application = application_for(Path(os.environ.get("BRIEFING_PROJECT", ".")))
