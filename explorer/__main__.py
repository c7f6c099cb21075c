"""`python -m explorer`: the stylegan-explorer command (explorer/main.py main), exiting with its
status."""

from .main import main

raise SystemExit(main())
