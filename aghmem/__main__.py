import sys

from .faces.cli.main import main

sys.exit(main())
