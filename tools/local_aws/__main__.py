import sys

from tools.local_aws.cli import main

sys.exit(main())
