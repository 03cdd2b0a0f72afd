"""`python -m fleetmon_agent`."""

import sys

from fleetmon_agent.cli import main

sys.exit(main())
