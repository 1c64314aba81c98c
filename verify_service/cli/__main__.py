"""`python -m verify_service.cli`."""

from verify_service.cli import main

main()
