import sys

from kunnan_docs.cli import main

sys.exit(main())
